package dev.userstream.cassandra;

import org.apache.cassandra.auth.AuthenticatedUser;
import org.apache.cassandra.auth.CassandraRoleManager;
import org.apache.cassandra.auth.IRoleManager;
import org.apache.cassandra.auth.RoleOptions;
import org.apache.cassandra.auth.RoleResource;
import org.apache.cassandra.exceptions.ConfigurationException;
import org.apache.cassandra.service.StorageService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Cassandra's own role manager, except on a new node: where the stock one creates the
 * well-known superuser {@code cassandra}/{@code cassandra} (and any local user could log in
 * with it until someone changes it), this one creates the stack's admin role, its name and
 * password taken from the node's environment ({@value #ROLE_VARIABLE},
 * {@value #PASSWORD_VARIABLE}; the environment, because process arguments are visible to every
 * local user). Until that role exists no role exists, so no login succeeds at all.
 *
 * <p>Configured with {@code role_manager: dev.userstream.cassandra.StackAdminRoleManager} in
 * cassandra.yaml, built by {@code userstream stack install} against the node's own jars.
 * It uses Cassandra 5.0's protected hooks ({@code loadRoleStatement},
 * {@code loadIdentityStatement}, {@code scheduleSetupTask}): recheck them on an upgrade.
 */
public final class StackAdminRoleManager extends CassandraRoleManager {
    /** The environment variable holding the admin role's name. */
    public static final String ROLE_VARIABLE = "USERSTREAM_CASSANDRA_ADMIN_ROLE";
    /** The environment variable holding the admin role's password. */
    public static final String PASSWORD_VARIABLE = "USERSTREAM_CASSANDRA_ADMIN_PASSWORD";

    private static final Logger LOG = LoggerFactory.getLogger(StackAdminRoleManager.class);

    /** Cassandra instantiates role managers by reflection: public, no arguments. */
    public StackAdminRoleManager() {
        super();
    }

    /**
     * Refuses to start without a usable admin login in the environment: checked at start-up,
     * because a failure inside the setup task would only be retried forever.
     */
    @Override
    public void validateConfiguration() throws ConfigurationException {
        super.validateConfiguration();
        roleName();
        password();
    }

    /** The stock setup, with the admin role in place of the default superuser. */
    @Override
    public void setup() {
        loadRoleStatement();
        loadIdentityStatement();
        // The stock scheduler: after cassandra.superuser_setup_delay_ms, retried on failure.
        scheduleSetupTask(() -> {
            createAdminOnANewNode();
            return null;
        });
    }

    private void createAdminOnANewNode() {
        if (StorageService.instance.getTokenMetadata().sortedTokens().isEmpty()) {
            // Thrown to be retried: the role write needs the node to own its tokens.
            throw new IllegalStateException("no tokens in the ring yet");
        }
        if (hasExistingRoles()) {
            return;
        }
        String role = roleName();
        RoleOptions options = new RoleOptions();
        options.setOption(IRoleManager.Option.SUPERUSER, true);
        options.setOption(IRoleManager.Option.LOGIN, true);
        options.setOption(IRoleManager.Option.PASSWORD, password());
        createRole(AuthenticatedUser.SYSTEM_USER, RoleResource.role(role), options);
        LOG.info("Created the stack's admin role '{}' (no default superuser)", role);
    }

    private static String roleName() {
        String role = System.getenv(ROLE_VARIABLE);
        if (role == null || !role.matches("[a-z][a-z0-9_]{0,47}")) {
            throw new ConfigurationException(ROLE_VARIABLE
                + " must name the stack's admin role (lower-case letters, digits, _): start the"
                + " node with `userstream stack up`", false);
        }
        if (role.equals(DEFAULT_SUPERUSER_NAME)) {
            throw new ConfigurationException(ROLE_VARIABLE + " may not be the well-known '"
                + DEFAULT_SUPERUSER_NAME + "'", false);
        }
        return role;
    }

    private static String password() {
        String password = System.getenv(PASSWORD_VARIABLE);
        if (password == null || password.length() < 16) {
            throw new ConfigurationException(PASSWORD_VARIABLE
                + " must hold the stack's admin password (16 characters or more): start the node"
                + " with `userstream stack up`", false);
        }
        return password;
    }
}
