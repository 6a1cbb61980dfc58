package dev.userstream.spark;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

// Spark 3.5 relocates gRPC inside spark-connect_2.12: the server only loads interceptors of
// these relocated types (an io.grpc.ServerInterceptor would not be one).
import org.sparkproject.connect.grpc.Grpc;
import org.sparkproject.connect.grpc.Metadata;
import org.sparkproject.connect.grpc.ServerCall;
import org.sparkproject.connect.grpc.ServerCallHandler;
import org.sparkproject.connect.grpc.ServerInterceptor;
import org.sparkproject.connect.grpc.Status;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guards the Spark 3.5 Connect server, which listens on all interfaces and has no
 * authentication of its own: a call is let through only when it comes from a loopback address
 * and carries {@code authorization: Bearer <token>} with the stack's token.
 *
 * <p>Loaded by the server with
 * {@code spark.connect.grpc.interceptor.classes=dev.userstream.spark.LoopbackTokenInterceptor};
 * the token is read from the server process's environment, {@value #TOKEN_ENV}.
 */
public final class LoopbackTokenInterceptor implements ServerInterceptor {
  /** The environment variable holding the token. */
  public static final String TOKEN_ENV = "USERSTREAM_SPARK_CONNECT_TOKEN";

  private static final Logger LOG = LoggerFactory.getLogger(LoopbackTokenInterceptor.class);
  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  /** The whole expected header value, {@code Bearer <token>}, as UTF-8. */
  private final byte[] expected;

  /**
   * Reads the token. Spark calls this no-argument constructor when the Connect server starts;
   * an exception here makes the server exit (it logs the message and stops), so a server
   * without a token never accepts a call.
   *
   * <p>The token comes from the environment, never from a SparkConf value: any client can read
   * confs back through the Config RPC.
   */
  public LoopbackTokenInterceptor() {
    String token = System.getenv(TOKEN_ENV);
    // A blank token is no better than none (and HTTP/2 may trim it off the header anyway).
    if (token == null || token.isBlank()) {
      throw new IllegalStateException(
          TOKEN_ENV
              + " is not set: the Spark Connect server refuses to start without its token; start"
              + " it with `userstream stack up`");
    }
    expected = ("Bearer " + token).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(
      ServerCall<ReqT, RespT> call, Metadata headers, ServerCallHandler<ReqT, RespT> next) {
    SocketAddress peer = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
    if (!isLoopback(peer)) {
      String from = describe(peer);
      LOG.warn("refused a Spark Connect call from {}: not a loopback address", from);
      return refuse(
          call,
          "userstream: Spark Connect accepts calls from loopback (127.0.0.1 / ::1) only; this"
              + " call came from "
              + from);
    }
    String given = headers.get(AUTHORIZATION);
    // MessageDigest.isEqual takes the same time wherever the bytes differ (it only returns
    // early on a different length, which tells nothing about the token's bytes).
    if (given == null
        || !MessageDigest.isEqual(expected, given.getBytes(StandardCharsets.UTF_8))) {
      // The header is neither logged nor echoed: a wrong one may be a typo of the real token.
      LOG.warn("refused a Spark Connect call from {}: missing or wrong token", describe(peer));
      return refuse(
          call,
          "userstream: Spark Connect needs the stack's token (authorization: Bearer ...);"
              + " `userstream stack credentials` prints it");
    }
    return next.startCall(call, headers);
  }

  /** Only an inet socket address whose IP is a loopback one (127.0.0.0/8, ::1) passes. */
  static boolean isLoopback(SocketAddress peer) {
    return peer instanceof InetSocketAddress inet
        && inet.getAddress() != null
        && inet.getAddress().isLoopbackAddress();
  }

  /** {@code ip:port} ({@code [ip]:port} for IPv6), without reverse DNS lookups. */
  static String describe(SocketAddress peer) {
    if (peer instanceof InetSocketAddress inet) {
      // An unresolved address (no IP) never passes isLoopback; show the name it has.
      if (inet.getAddress() == null) {
        return inet.getHostString() + ":" + inet.getPort();
      }
      String ip = inet.getAddress().getHostAddress();
      boolean v6 = inet.getAddress() instanceof Inet6Address;
      return (v6 ? "[" + ip + "]" : ip) + ":" + inet.getPort();
    }
    return peer == null ? "an unknown address" : peer.toString();
  }

  /** Ends the call before it reaches Spark; the listener ignores whatever the client sends. */
  private static <ReqT, RespT> ServerCall.Listener<ReqT> refuse(
      ServerCall<ReqT, RespT> call, String description) {
    call.close(Status.UNAUTHENTICATED.withDescription(description), new Metadata());
    return new ServerCall.Listener<ReqT>() {};
  }
}
