//! ksqlDB SQL: lexer → parser → AST.

pub mod ast;
