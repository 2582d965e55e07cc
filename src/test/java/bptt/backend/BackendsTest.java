// BackendsTest: auto takes the first backend it may pick that opens, skipping one whose opening fails.
package bptt.backend;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BackendsTest {
    /** A provider that probes available but fails to open, as cuda does when its kernels do not load. */
    private static BackendProvider failingToOpen() {
        return new BackendProvider() {
            @Override
            public String name() { return "gpu"; }

            @Override
            public Availability probe() { return Availability.yes("a device"); }

            @Override
            public Backend open(int device) { throw new BackendUnavailableException("gpu", "the kernels do not load"); }
        };
    }

    @Test
    void autoFallsBackWhenABackendFailsToOpen() {
        BackendProvider reference = Backends.provider("cpu-ref");
        try (Backend be = Backends.openFirst(List.of(failingToOpen(), reference), -1)) {
            assertEquals("cpu-ref", be.name());
        }
        assertThrows(IllegalStateException.class, () -> Backends.openFirst(List.of(failingToOpen()), -1));
    }
}
