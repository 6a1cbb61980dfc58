package dev.userstream.registry;

import java.io.IOException;
import java.io.InputStream;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;

/**
 * A Java agent for the Apicurio Registry: its management port should serve health only, but
 * the prebuilt registry also serves Prometheus metrics there without a login, and both the
 * metrics endpoint and the management login are fixed when the registry is built. The agent
 * swaps Quarkus's metrics handler, as the class is loaded, for {@code PrometheusHandler.java}
 * beside this file (built into this jar under a resource name, so nothing else loads it),
 * which answers 404 to every request.
 *
 * <p>Loaded with {@code -javaagent:<jar>} by {@code userstream stack up}; built by
 * {@code userstream stack install}. The class it replaces belongs to the registry's Quarkus
 * version: the security test checks {@code /metrics} after every upgrade.
 */
public final class MetricsOffAgent {
    /** The internal name of the class replaced. */
    static final String TARGET = "io/quarkus/micrometer/runtime/export/handlers/PrometheusHandler";
    /** Where the replacement's bytes sit in this jar. */
    static final String REPLACEMENT = "/dev/userstream/registry/PrometheusHandler.bytes";

    private MetricsOffAgent() {}

    /** The agent's entry point, before the registry's {@code main}. */
    public static void premain(String arguments, Instrumentation instrumentation) throws IOException {
        byte[] replacement;
        try (InputStream in = MetricsOffAgent.class.getResourceAsStream(REPLACEMENT)) {
            if (in == null) {
                throw new IllegalStateException(REPLACEMENT + " is missing from the agent's jar:"
                    + " run `userstream stack install` again");
            }
            replacement = in.readAllBytes();
        }
        instrumentation.addTransformer(new ClassFileTransformer() {
            @Override
            public byte[] transform(ClassLoader loader, String className, Class<?> redefined,
                    ProtectionDomain domain, byte[] original) {
                return TARGET.equals(className) ? replacement.clone() : null;
            }
        });
    }
}
