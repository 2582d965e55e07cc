// RequiredBackendsTest: every backend named in BPTT_REQUIRE_BACKENDS exists, is available and opens.
package bptt.conformance;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;
import bptt.backend.Backends;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class RequiredBackendsTest {
    @Test
    void requiredBackendsAreAvailable() {
        for (String name : TestBackends.required()) {
            BackendProvider provider;
            try {
                provider = Backends.provider(name);
            } catch (IllegalArgumentException e) {
                fail("BPTT_REQUIRE_BACKENDS names " + e.getMessage());
                return;
            }
            BackendProvider.Availability a = provider.probe();
            assertTrue(a.available(), name + " is required by BPTT_REQUIRE_BACKENDS but unavailable: " + a.reason());
            try (Backend be = provider.open(-1)) {
                assertTrue(be.deviceDescription() != null && !be.deviceDescription().isBlank());
            }
        }
    }

    @Test
    void probesNeverThrowAndGiveReasons() {
        for (BackendProvider p : Backends.providers()) {
            BackendProvider.Availability a = p.probe();
            assertTrue(a.reason() != null && !a.reason().isBlank(), p.name() + " probe gave no reason");
        }
    }
}
