package io.quarkus.micrometer.runtime.export.handlers;

import io.vertx.core.Handler;
import io.vertx.ext.web.RoutingContext;
import java.util.List;
import java.util.Optional;

/**
 * The stack's stand-in for Quarkus's metrics handler in the registry (see
 * {@code MetricsOffAgent}): the same name and constructor, so the registry's generated start-up
 * code builds it unchanged, and no metrics: every request gets 404.
 */
public class PrometheusHandler implements Handler<RoutingContext> {
    /** The constructor Quarkus's recorder calls; its settings no longer matter. */
    public PrometheusHandler(boolean enableCompression, Optional<List<String>> compressMediaTypes) {}

    @Override
    public void handle(RoutingContext context) {
        context.response().setStatusCode(404).end();
    }
}
