// Device: an open compute backend (cuda, opencl, cpu or cpu-ref) that models live on; closing it frees everything.
package bptt.api;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;
import bptt.backend.Backends;
import bptt.backend.DeviceSteps;
import bptt.backend.opencl.OpenClDevices;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A backend opened by name: {@code auto} (a CUDA GPU, then an OpenCL GPU, then the CPU),
 * {@code cuda}, {@code opencl}, {@code cpu} (OpenBLAS and vectorised Java) or {@code cpu-ref}
 * (plain loops, the reference). Models created on a device keep their weights there; close the
 * models, then the device.
 */
public final class Device implements AutoCloseable {
    final Backend backend;

    private Device(Backend backend) {
        this.backend = backend;
    }

    /**
     * Opens a backend on its default device.
     *
     * @param name auto, cuda, opencl, cpu or cpu-ref
     * @return the open device
     * @throws IllegalArgumentException for an unknown name
     * @throws BpttException            when the backend is unavailable here (the message says why)
     */
    public static Device open(String name) { return open(name, -1); }

    /**
     * Opens a backend on one of its devices.
     *
     * @param name  auto, cuda, opencl, cpu or cpu-ref
     * @param index the device's index within the backend (see {@link #list}); -1 for its default
     * @return the open device
     * @throws IllegalArgumentException for an unknown name or a device the backend does not have
     * @throws BpttException            when the backend is unavailable here (the message says why)
     */
    public static Device open(String name, int index) {
        return Failures.call(() -> new Device(Backends.open(name, index)));
    }

    /**
     * Checks a backend name and device index as {@link #open} would, without opening anything.
     *
     * @param name  auto, cuda, opencl, cpu or cpu-ref
     * @param index the device's index, or -1
     * @throws IllegalArgumentException for an unknown name or a device an available backend does not have
     */
    public static void check(String name, int index) {
        Backends.validate(name, index);
    }

    /**
     * One backend of this machine.
     *
     * @param name      cuda, opencl, cpu or cpu-ref
     * @param available whether it can be opened here
     * @param reason    what it runs on, or why it is unavailable
     * @param devices   one line per device, indented (OpenCL: grouped under their platforms)
     * @param auto      whether {@code auto} picks it (the first available one that may be picked is)
     */
    public record Info(String name, boolean available, String reason, List<String> devices, boolean auto) { }

    /**
     * Every backend, in the order {@code auto} tries them, with its devices.
     *
     * @return one entry per backend
     */
    public static List<Info> list() {
        List<Info> list = new ArrayList<>();
        boolean autoFound = false;
        for (BackendProvider p : Backends.providers()) {
            BackendProvider.Availability a = p.probe();
            List<String> devices = !a.available() ? List.of() : p.name().equals("opencl") ? openClLines()
                    : p.devices().stream().map(d -> "  device " + d).toList();
            boolean auto = !autoFound && a.available() && p.preferredForAuto();
            autoFound |= auto;
            list.add(new Info(p.name(), a.available(), a.reason(), devices, auto));
        }
        return list;
    }

    /** Devices grouped by platform; the device number is what the index of {@link #open} takes. */
    private static List<String> openClLines() {
        List<String> lines = new ArrayList<>();
        List<OpenClDevices.Device> devices = OpenClDevices.list();
        int defaultIndex = OpenClDevices.defaultIndex(devices);
        Object platform = null;
        for (OpenClDevices.Device d : devices) {
            if (d.platform() != platform) {
                platform = d.platform();
                lines.add("  platform: " + d.platformName() + " (" + d.platformVersion() + ")");
            }
            lines.add(String.format(Locale.ROOT, "    device %d: %s [%s], %d MiB, %d compute units, %s%s", d.index(),
                    d.name(), d.type(), d.globalMemBytes() >> 20, d.computeUnits(), d.version(),
                    d.index() == defaultIndex ? "  (default)" : ""));
        }
        return lines;
    }

    /** @return the backend's name: cuda, opencl, cpu or cpu-ref */
    public String name() { return backend.name(); }

    /** @return one line on the device it runs on */
    public String description() { return backend.deviceDescription(); }

    /** @return bytes of tensors allocated on this device now */
    public long allocatedBytes() { return backend.allocatedBytes(); }

    /** @return the most bytes of tensors allocated at once since the device was opened */
    public long peakAllocatedBytes() { return backend.peakAllocatedBytes(); }

    /**
     * On cuda, whether training steps are recorded once per shape as a CUDA graph and replayed
     * with one launch (true, the default where capture works) or launched kernel by kernel from
     * the host (false); other backends ignore it.
     *
     * @param on true for graphs
     */
    public void useCudaGraphs(boolean on) {
        if (backend instanceof DeviceSteps steps) {
            steps.useGraphs(on);
        }
    }

    /** Frees the device; models on it must be closed first. */
    @Override
    public void close() { backend.close(); }

    @Override
    public String toString() { return name() + " (" + description() + ")"; }
}
