// BackendProvider: how the factory learns whether a backend can run here, and opens it.
package bptt.backend;

import java.util.List;

/** One backend kind. {@link #probe} must never throw: absence is reported, not raised. */
public interface BackendProvider {
    String name();

    /** Whether the backend can run on this machine, and if not, why and what would fix it. */
    Availability probe();

    /** Opens the backend on device {@code device}, or on its default device when it is -1. */
    Backend open(int device);

    /** Devices this backend sees, one line each; empty when unavailable. */
    default List<String> devices() { return List.of(); }

    /** Whether {@code auto} may pick this backend (e.g. OpenCL only on a GPU device). */
    default boolean preferredForAuto() { return probe().available(); }

    /** The result of a probe: available, or the reason it is not. */
    record Availability(boolean available, String reason) {
        public static Availability yes(String what) { return new Availability(true, what); }

        public static Availability no(String reason) { return new Availability(false, reason); }
    }
}
