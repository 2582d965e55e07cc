// DevicesCommand: `bptt devices`: every backend, available or not (with the reason), and its devices.
package bptt.cli;

import bptt.api.Device;
import picocli.CommandLine.Command;

import java.io.PrintStream;
import java.util.concurrent.Callable;

/** Lists backends in the order {@code auto} tries them; for OpenCL each platform and its devices. */
@Command(name = "devices", mixinStandardHelpOptions = true,
        description = "List every backend (available or not, with the reason) and its devices.")
public final class DevicesCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        PrintStream out = System.out;
        String auto = null;
        for (Device.Info backend : Device.list()) {
            out.println(backend.name() + ": " + (backend.available() ? "available: " : "unavailable: ") + backend.reason());
            backend.devices().forEach(out::println);
            if (backend.auto()) {
                auto = backend.name();
            }
        }
        out.println("auto: " + (auto == null ? "no backend available" : auto));
        return 0;
    }
}
