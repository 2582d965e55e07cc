// CudaGraphOption: --cuda-graph on|off, shared by train and bench: replay each training step as one CUDA graph, or not.
package bptt.cli;

import bptt.api.Device;
import picocli.CommandLine.Option;

/** Mixin: {@code --cuda-graph on|off}; it changes nothing on a backend without CUDA graphs. */
public final class CudaGraphOption {
    /** The option's values. */
    public enum Mode { on, off }

    @Option(names = "--cuda-graph", defaultValue = "on", paramLabel = "on|off",
            description = "cuda: record each training step once as a CUDA graph and replay it with one launch (on),"
                    + " or launch every kernel and GEMM from the host (off); other backends ignore it"
                    + " (default: ${DEFAULT-VALUE}, where capture works)")
    Mode mode = Mode.on;

    /** @return true for --cuda-graph on */
    public boolean on() { return mode == Mode.on; }

    /** Sets the device's graph mode (a device without CUDA graphs ignores it). */
    public void apply(Device device) { device.useCudaGraphs(on()); }
}
