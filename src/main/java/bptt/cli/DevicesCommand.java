// DevicesCommand: `bptt devices`: every backend, available or not (with the reason), and its devices.
package bptt.cli;

import bptt.backend.BackendProvider;
import bptt.backend.Backends;
import bptt.backend.opencl.OpenClDevices;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;

/** Lists backends in the order {@code auto} tries them; for OpenCL each platform and its devices. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "List every backend (available or not, with the reason) and its devices.")
public final class DevicesCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        PrintStream out = System.out;
        String auto = null;
        for (BackendProvider p : Backends.providers()) {
            BackendProvider.Availability a = p.probe();
            out.println(p.name() + ": " + (a.available() ? "available: " : "unavailable: ") + a.reason());
            if (a.available()) {
                if (p.name().equals("opencl")) {
                    printOpenCl(out);
                } else {
                    p.devices().forEach(d -> out.println("  device " + d));
                }
                if (auto == null && p.preferredForAuto()) {
                    auto = p.name();
                }
            }
        }
        out.println("auto: " + (auto == null ? "no backend available" : auto));
        return 0;
    }

    /** Devices grouped by platform; the device number is what --device takes. */
    private static void printOpenCl(PrintStream out) {
        List<OpenClDevices.Device> devices = OpenClDevices.list();
        int defaultIndex = OpenClDevices.defaultIndex(devices);
        Object platform = null;
        for (OpenClDevices.Device d : devices) {
            if (d.platform() != platform) {
                platform = d.platform();
                out.println("  platform: " + d.platformName() + " (" + d.platformVersion() + ")");
            }
            out.printf("    device %d: %s [%s], %d MiB, %d compute units, %s%s%n", d.index(), d.name(), d.type(),
                    d.globalMemBytes() >> 20, d.computeUnits(), d.version(),
                    d.index() == defaultIndex ? "  (default)" : "");
        }
    }
}
