// TestBackends: the backends under test (every provider but cpu-ref), opened once, skipped or failed when absent.
package bptt.conformance;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;
import bptt.backend.Backends;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;

/**
 * An absent backend is skipped with its reason, unless the environment variable
 * {@code BPTT_REQUIRE_BACKENDS} (a comma list such as {@code cpu-ref,opencl}) names it: then its
 * absence fails the test. {@code BPTT_SEED} fixes the otherwise fresh random seed.
 */
public final class TestBackends {
    private static final Map<String, Backend> OPEN = new HashMap<>();

    /** The seed of this test run: BPTT_SEED, or a fresh one. */
    public static final long SEED = seed();

    private TestBackends() { }

    private static long seed() {
        String env = System.getenv("BPTT_SEED");
        return env != null && !env.isBlank() ? Long.parseLong(env.trim()) : new SplittableRandom().nextLong();
    }

    /** Backends named by BPTT_REQUIRE_BACKENDS. */
    public static Set<String> required() {
        String env = System.getenv("BPTT_REQUIRE_BACKENDS");
        if (env == null || env.isBlank()) {
            return Set.of();
        }
        return Arrays.stream(env.split(",")).map(String::trim).filter(s -> !s.isEmpty()).collect(Collectors.toSet());
    }

    /** Every provider except cpu-ref, the oracle. */
    public static List<String> underTest() {
        return Backends.providers().stream().map(BackendProvider::name).filter(n -> !n.equals("cpu-ref")).toList();
    }

    /** Opens (once) the named backend, or skips / fails the calling test when it is absent. */
    public static synchronized Backend open(String name) {
        Backend be = OPEN.get(name);
        if (be != null) {
            return be;
        }
        be = openFresh(name);
        OPEN.put(name, be);
        return be;
    }

    /** A new instance of the named backend, owned by the caller; skips / fails the test when it is absent. */
    public static Backend openFresh(String name) {
        BackendProvider provider = Backends.provider(name);
        BackendProvider.Availability availability = provider.probe();
        if (!availability.available()) {
            String message = name + " unavailable: " + availability.reason();
            if (required().contains(name)) {
                Assertions.fail(message + " (required by BPTT_REQUIRE_BACKENDS)");
            }
            Assumptions.abort(message);
        }
        return provider.open(-1);
    }

    /** A per-check seed derived from the run's seed, so one BPTT_SEED reproduces the whole run. */
    public static long seedFor(Check check) {
        return SEED ^ (31L * check.name().hashCode() + check.shape().hashCode());
    }

    /** The message tail that tells how to reproduce a failure. */
    public static String reproduce() { return "\n(reproduce with BPTT_SEED=" + SEED + ")"; }

    public static synchronized void closeAll() {
        OPEN.values().forEach(Backend::close);
        OPEN.clear();
    }
}
