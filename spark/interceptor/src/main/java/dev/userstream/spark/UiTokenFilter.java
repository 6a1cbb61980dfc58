package dev.userstream.spark;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;

// Spark 3.5's UIs run on Jetty 9.4 with the javax.servlet API (jakarta.servlet-api 4.0.3 in
// the distribution's jars).
import javax.servlet.Filter;
import javax.servlet.FilterChain;
import javax.servlet.FilterConfig;
import javax.servlet.ServletException;
import javax.servlet.ServletRequest;
import javax.servlet.ServletResponse;
import javax.servlet.http.HttpServletRequest;
import javax.servlet.http.HttpServletResponse;

/**
 * Asks every caller of a Spark web UI (master, worker, the Connect server's driver UI) for the
 * stack's console token: {@code Authorization: Bearer <token>}, or HTTP Basic with the token as
 * the password (any user name), which is what a browser's login prompt sends.
 *
 * <p>Spark's UIs have no login of their own, and they show plans, configuration and executor
 * logs. Loaded with {@code spark.ui.filters=dev.userstream.spark.UiTokenFilter}; the token is
 * read from the process's environment, {@value #TOKEN_ENV}, never from a SparkConf value (the
 * environment page would show it).
 */
public final class UiTokenFilter implements Filter {
  /** The environment variable holding the token. */
  public static final String TOKEN_ENV = "USERSTREAM_SPARK_UI_TOKEN";

  private static final String REALM =
      "Basic realm=\"userstream Spark UI (password: the console token)\", charset=\"UTF-8\"";

  /** The token as UTF-8; null until {@link #init}. */
  private byte[] token;

  @Override
  public void init(FilterConfig config) throws ServletException {
    String value = System.getenv(TOKEN_ENV);
    // Without a token nobody could log in; failing here makes Jetty answer 503 to everyone
    // instead of serving the pages unguarded.
    if (value == null || value.isBlank()) {
      throw new ServletException(
          TOKEN_ENV + " is not set: the Spark UI refuses every request; start it with"
              + " `userstream stack up`");
    }
    token = value.getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void doFilter(ServletRequest request, ServletResponse response, FilterChain chain)
      throws IOException, ServletException {
    HttpServletRequest http = (HttpServletRequest) request;
    HttpServletResponse answer = (HttpServletResponse) response;
    if (token != null && matches(token, http.getHeader("Authorization"))) {
      chain.doFilter(request, response);
      return;
    }
    answer.setHeader("WWW-Authenticate", REALM);
    answer.setHeader("Cache-Control", "no-store");
    answer.setContentType("text/plain; charset=UTF-8");
    answer.setStatus(HttpServletResponse.SC_UNAUTHORIZED);
    answer
        .getWriter()
        .write(
            "userstream: this Spark UI needs the console token (Authorization: Bearer <token>,"
                + " or any user name with the token as password); `userstream stack credentials`"
                + " prints it\n");
  }

  @Override
  public void destroy() {}

  /** Whether an Authorization header carries {@code expected}, as Bearer or Basic password. */
  static boolean matches(byte[] expected, String header) {
    if (header == null) {
      return false;
    }
    byte[] given;
    if (header.regionMatches(true, 0, "Bearer ", 0, 7)) {
      given = header.substring(7).trim().getBytes(StandardCharsets.UTF_8);
    } else if (header.regionMatches(true, 0, "Basic ", 0, 6)) {
      byte[] decoded;
      try {
        decoded = Base64.getDecoder().decode(header.substring(6).trim());
      } catch (IllegalArgumentException notBase64) {
        return false;
      }
      String pair = new String(decoded, StandardCharsets.UTF_8);
      int colon = pair.indexOf(':');
      if (colon < 0) {
        return false;
      }
      given = pair.substring(colon + 1).getBytes(StandardCharsets.UTF_8);
    } else {
      return false;
    }
    // Same time wherever the bytes differ (it only returns early on a different length).
    return MessageDigest.isEqual(expected, given);
  }
}
