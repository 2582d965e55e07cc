// Backends: the plain factory that names, probes and opens every backend; `auto` picks the best.
package bptt.backend;

import bptt.backend.cuda.CudaProvider;
import bptt.backend.opencl.OpenClProvider;
import bptt.backend.cpu.CpuProvider;
import bptt.backend.ref.CpuRefBackend;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The backends in order of preference for {@code auto}. */
public final class Backends {
    private Backends() { }

    /** Every backend kind, fastest first. */
    public static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        list.add(new CudaProvider());
        list.add(new OpenClProvider());
        list.add(new CpuProvider());
        list.add(new BackendProvider() {
            @Override
            public String name() { return "cpu-ref"; }

            @Override
            public Availability probe() { return Availability.yes("Java reference loops"); }

            @Override
            public Backend open(int device) { return CpuRefBackend.float32(); }

            @Override
            public List<String> devices() { return List.of("0: Java reference loops (float32 storage, float64 accumulation)"); }
        });
        return list;
    }

    public static List<String> names() {
        List<String> names = new ArrayList<>();
        names.add("auto");
        for (BackendProvider p : providers()) {
            names.add(p.name());
        }
        return names;
    }

    public static BackendProvider provider(String name) {
        String key = name.toLowerCase(Locale.ROOT);
        for (BackendProvider p : providers()) {
            if (p.name().equals(key)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown backend '" + name + "'; choose one of " + String.join(", ", names()));
    }

    /**
     * Opens the named backend (or the best available for "auto"); device -1 means its default.
     * For "auto", a backend that fails to open (e.g. its kernels do not load on this driver) is
     * skipped with its reason on stderr and the next one is tried.
     */
    public static Backend open(String name, int device) {
        if ("auto".equalsIgnoreCase(name)) {
            return openFirst(providers(), device);
        }
        BackendProvider p = provider(name);
        BackendProvider.Availability a = p.probe();
        if (!a.available()) {
            throw new BackendUnavailableException(p.name(), a.reason());
        }
        requireDevice(p, device);
        return p.open(device);
    }

    /** The first of {@code candidates} that auto may pick and that opens. */
    static Backend openFirst(List<BackendProvider> candidates, int device) {
        for (BackendProvider p : candidates) {
            if (p.preferredForAuto()) {
                requireDevice(p, device);
                try {
                    return p.open(device);
                } catch (BackendUnavailableException e) {
                    System.err.println("auto: skipping " + e.getMessage());
                }
            }
        }
        throw new IllegalStateException("no backend available");
    }

    /**
     * Checks a backend name and device index as {@link #open} would, without opening: an unknown
     * name or a device the (available) backend does not list is refused.
     */
    public static void validate(String name, int device) {
        if ("auto".equalsIgnoreCase(name)) {
            if (device < -1) {
                throw new IllegalArgumentException("--device must be 0 or more (or -1 for the backend's default), got " + device);
            }
            return;
        }
        BackendProvider p = provider(name);
        if (p.probe().available()) {
            requireDevice(p, device);
        }
    }

    /** Device -1 (the backend's default) or one the backend lists; anything else is refused before opening. */
    static void requireDevice(BackendProvider p, int device) {
        if (device < -1) {
            throw new IllegalArgumentException("--device must be 0 or more (or -1 for the backend's default), got " + device);
        }
        int count = p.devices().size();
        if (device >= count) {
            throw new IllegalArgumentException(p.name() + " has " + count + " device" + (count == 1 ? "" : "s")
                    + (count > 0 ? " (0" + (count > 1 ? ".." + (count - 1) : "") + ")" : "") + "; --device " + device
                    + " does not exist (see 'scripts/bptt devices')");
        }
    }
}
