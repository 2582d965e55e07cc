// CpuProvider: registers the OpenBLAS-backed "cpu" backend with the factory; probing never throws.
package bptt.backend.cpu;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;
import bptt.backend.BackendUnavailableException;

import java.util.List;

public final class CpuProvider implements BackendProvider {
    @Override
    public String name() { return "cpu"; }

    @Override
    public Availability probe() {
        try {
            String reason = CpuBackend.unavailableReason();
            return reason == null ? Availability.yes("OpenBLAS via JavaCPP, " + cores() + " threads, "
                    + VectorSupport.describe(VectorSupport.unavailableReason() == null)) : Availability.no(reason);
        } catch (Throwable e) {
            return Availability.no(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    @Override
    public Backend open(int device) {
        if (device > 0) {
            throw new IllegalArgumentException("cpu has one device, 0; got " + device);
        }
        Availability a = probe();
        if (!a.available()) {
            throw new BackendUnavailableException(name(), a.reason());
        }
        return new CpuBackend(cores());
    }

    @Override
    public List<String> devices() {
        return probe().available() ? List.of("0: " + cores() + " threads, each running OpenBLAS single-threaded and Java kernels")
                : List.of();
    }

    /** The team's threads (which also run every OpenBLAS call): -Dbptt.cpu.threads=N, else one per core. */
    private static int cores() {
        Integer n = Integer.getInteger("bptt.cpu.threads");
        return n != null && n > 0 ? n : Runtime.getRuntime().availableProcessors();
    }
}
