package golden;

// Prints the bytes ksqlDB's JSON serializer writes for a set of values, so Sluice's stored
// bytes can be checked against the real thing (engine/src/format/json_value.rs,
// `stored_bytes_are_ksqldbs`). ksqlDB's `KsqlJsonSerdeFactory` serializes a row with Kafka
// Connect's `JsonConverter` (`schemas.enable=false`, `decimal.format=NUMERIC`) over a
// Connect `Struct`; the values below are the Java objects its API coercer builds (a MAP is a
// `new HashMap<>()`, as `ApiSqlValueCoercer.coerceMap` makes it).
//
//   cd scripts/ksqldb_json_golden
//   mvn -q compile dependency:build-classpath -Dmdep.outputFile=cp.txt
//   java -cp "target/classes:$(cat cp.txt)" golden.Main

import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.kafka.connect.data.*;
import org.apache.kafka.connect.json.JsonConverter;

public class Main {
  static JsonConverter converter() {
    JsonConverter c = new JsonConverter();
    Map<String, Object> cfg = new HashMap<>();
    cfg.put("schemas.enable", false);
    cfg.put("decimal.format", "NUMERIC");
    c.configure(cfg, false);
    return c;
  }

  static void print(String label, Schema schema, Object value) {
    byte[] b = converter().fromConnectData("t", schema, value);
    System.out.println(label + "\t" + new String(b, StandardCharsets.UTF_8));
  }

  public static void main(String[] args) {
    Schema d = SchemaBuilder.struct().field("D", Schema.OPTIONAL_FLOAT64_SCHEMA).optional().build();
    double[] doubles = {1.5, 1000.0, 12345678.0, 1.0E-4, -0.0, 0.0, Double.NaN, Double.POSITIVE_INFINITY,
        Double.NEGATIVE_INFINITY, 9.223372036854775807E18, 0.1 + 0.2, 1e23, 2e-3, 1234567.0, 1e7, 0.001, 5e-324,
        Double.MAX_VALUE, 2.0E22, 1.0E22, 8.41E21, 5.0E-3};
    for (double v : doubles) {
      Struct s = new Struct(d).put("D", v);
      print("double " + v, d, s);
    }
    long[][] decs = {{1210, 2}, {0, 8}, {12, 8}, {1, 6}, {0, 6}, {1, 7}, {-12, 9}, {10, 7}, {123456, 10}, {7, 0}, {0, 2}};
    for (long[] u : decs) {
      Schema ds = SchemaBuilder.struct().field("X", Decimal.builder((int) u[1]).optional().build()).optional().build();
      Struct s = new Struct(ds).put("X", BigDecimal.valueOf(u[0], (int) u[1]));
      print("decimal " + u[0] + "e-" + u[1], ds, s);
    }
    Schema str = SchemaBuilder.struct().field("S", Schema.OPTIONAL_STRING_SCHEMA).optional().build();
    print("string", str, new Struct(str).put("S", "a\"b\\c\n\t\r\b\f\u0001\u001f\u007f/é中😀\u2028"));
    print("string lone", str, new Struct(str).put("S", "x\ud800y"));
    Schema m = SchemaBuilder.struct().field("M",
        SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.OPTIONAL_INT32_SCHEMA).optional().build()).optional().build();
    String[][] keysets = {{"c", "b", "a"}, {"q", "l", "k", "j", "i", "h", "g", "f", "e", "d", "c", "b", "a"},
        {"yes, thanks", "nope", "sure, yeah"}, {"Aa", "BB", "x"}, {"é", "😀", "z", "plan", "ref", "locale"}};
    for (String[] keys : keysets) {
      HashMap<Object, Object> hm = new HashMap<>();
      for (String k : keys) hm.put(k, 1);
      print("map " + String.join("|", keys), m, new Struct(m).put("M", hm));
    }
    Schema st = SchemaBuilder.struct()
        .field("DEVICE", SchemaBuilder.struct().field("OS", Schema.OPTIONAL_STRING_SCHEMA)
            .field("lower", Schema.OPTIONAL_INT32_SCHEMA).optional().build())
        .field("B", Schema.OPTIONAL_BYTES_SCHEMA)
        .field("TS", Timestamp.builder().optional().build())
        .field("DT", org.apache.kafka.connect.data.Date.builder().optional().build())
        .field("TM", Time.builder().optional().build())
        .field("A", SchemaBuilder.array(Schema.OPTIONAL_INT64_SCHEMA).optional().build())
        .field("N", Schema.OPTIONAL_BOOLEAN_SCHEMA)
        .optional().build();
    Struct dev = new Struct(st.field("DEVICE").schema()).put("OS", "ios");
    Struct row = new Struct(st).put("DEVICE", dev).put("B", new byte[] {1, 2, 3, 4})
        .put("TS", new java.util.Date(1614834367123L)).put("DT", new java.util.Date(18690L * 86400000L))
        .put("TM", new java.util.Date(45296789L)).put("A", Arrays.asList(1L, null, -3L));
    print("struct", st, row);
  }
}
