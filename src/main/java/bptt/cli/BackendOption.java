// BackendOption: the --backend/--device flags shared by every command that runs a model.
package bptt.cli;

import bptt.api.Device;
import picocli.CommandLine.Option;

/** Mixin: {@code --backend auto|cuda|opencl|cpu|cpu-ref} and {@code --device N}. */
public final class BackendOption {
    @Option(names = "--backend", defaultValue = "auto",
            description = "auto (cuda, then OpenCL on a GPU, then cpu), cuda, opencl, cpu or cpu-ref (default ${DEFAULT-VALUE}).")
    String backend;

    @Option(names = "--device", defaultValue = "-1",
            description = "Device index within the backend (see 'scripts/bptt devices'); -1 = its default.")
    int device;

    /** Refuses an unknown backend name or a device it does not have, without opening anything. */
    public void validate() {
        Device.check(backend, device);
    }

    /** @return the chosen backend, open on the chosen device */
    public Device open() {
        return Device.open(backend, device);
    }
}
