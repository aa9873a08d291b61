package fraudtest;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;

/**
 * Starts a one-DataNode HDFS on 127.0.0.1 and keeps it up until stdin closes (the test fixture holds
 * the pipe) or the process is killed.
 * Usage: MiniHdfs BASE_DIR NAMENODE_PORT READY_FILE
 * When the cluster is up, READY_FILE (written atomically) holds the hdfs:// URI.
 */
public final class MiniHdfs {
  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: MiniHdfs BASE_DIR NAMENODE_PORT READY_FILE");
      System.exit(2);
    }
    File base = new File(args[0]);
    int port = Integer.parseInt(args[1]);
    File ready = new File(args[2]);

    Configuration conf = new Configuration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, base.getAbsolutePath());
    // Loopback only: every server socket binds to 127.0.0.1 with a free (ephemeral) port.
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    conf.setInt("dfs.replication", 1);

    MiniDFSCluster cluster = new MiniDFSCluster.Builder(conf)
        .nameNodePort(port)
        .numDataNodes(1)
        .format(true)
        .build();
    cluster.waitActive();
    String uri = "hdfs://127.0.0.1:" + cluster.getNameNodePort();

    File tmp = new File(ready.getAbsolutePath() + ".tmp");
    Files.write(tmp.toPath(), uri.getBytes(StandardCharsets.UTF_8));
    Files.move(tmp.toPath(), ready.toPath(), StandardCopyOption.ATOMIC_MOVE);
    System.out.println("mini-hdfs ready at " + uri);
    System.out.flush();

    Runtime.getRuntime().addShutdownHook(new Thread(cluster::shutdown));
    // Block until the parent closes our stdin (or dies).
    while (System.in.read() != -1) {
      // ignore input
    }
    cluster.shutdown();
    System.exit(0);
  }
}
