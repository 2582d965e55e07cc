// CudaGraphOption: --cuda-graph on|off, shared by train and bench: replay each training step as one CUDA graph, or not.
package bptt.cli;

import bptt.backend.Backend;
import bptt.backend.DeviceSteps;
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

    /** Sets the backend's graph mode, when it has one. */
    public void apply(Backend backend) {
        if (backend instanceof DeviceSteps steps) {
            steps.useGraphs(mode == Mode.on);
        }
    }
}
