// Readiness probe for broker.sh: exits 0 once the cluster at a bootstrap address reports every
// expected broker as registered and unfenced, so a test that starts right after `broker.sh
// start` can create topics, produce and join groups at once. A TCP connect alone is not
// enough: a KRaft broker accepts connections before it has caught up with the metadata log
// and been unfenced by the controller, and until then it refuses to lead partitions.
//
// Usage: java -cp LIBS:CLASSES BrokerReady TIMEOUT_MS BOOTSTRAP NODE_ID [NODE_ID ...]
// Talks to the broker with Kafka's own Admin client, the same API a real client uses.

import java.util.Arrays;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.common.Node;

public final class BrokerReady {
  /** One describeCluster round trip; short so a broker that is still starting is re-asked soon. */
  private static final int REQUEST_TIMEOUT_MS = 3_000;
  /** Pause between attempts: startup takes seconds, so polling faster only burns CPU. */
  private static final long POLL_INTERVAL_MS = 200;

  public static void main(String[] args) throws InterruptedException {
    if (args.length < 3) {
      System.err.println("usage: BrokerReady TIMEOUT_MS BOOTSTRAP NODE_ID [NODE_ID ...]");
      System.exit(2);
    }
    long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(Long.parseLong(args[0]));
    String bootstrap = args[1];
    Set<Integer> expected =
        Arrays.stream(args, 2, args.length).map(Integer::valueOf).collect(Collectors.toCollection(TreeSet::new));

    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, REQUEST_TIMEOUT_MS);
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, 100);
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, 500);

    String last = "no answer yet";
    try (Admin admin = Admin.create(props)) {
      while (System.nanoTime() < deadlineNs) {
        try {
          DescribeClusterResult cluster =
              admin.describeCluster(new DescribeClusterOptions().timeoutMs(REQUEST_TIMEOUT_MS));
          Set<Integer> live =
              cluster.nodes().get().stream().map(Node::id).collect(Collectors.toCollection(TreeSet::new));
          Node controller = cluster.controller().get();
          if (live.containsAll(expected) && controller != null && !controller.isEmpty()) {
            return;
          }
          last = "unfenced brokers " + live + ", waiting for " + expected;
        } catch (Exception e) {
          Throwable cause = e.getCause() != null ? e.getCause() : e;
          last = cause.getClass().getSimpleName() + ": " + cause.getMessage();
        }
        Thread.sleep(POLL_INTERVAL_MS);
      }
    }
    System.err.println("BrokerReady: not ready at " + bootstrap + " in time: " + last);
    System.exit(1);
  }
}
