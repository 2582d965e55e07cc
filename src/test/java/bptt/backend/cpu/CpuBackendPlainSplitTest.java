// CpuBackendPlainSplitTest: every op split over three threads, without the Vector API kernels, against cpu-ref.
package bptt.backend.cpu;

/**
 * The path a JVM without {@code --add-modules jdk.incubator.vector} takes (the recurrent step
 * as OpenBLAS plus loops), with every op split so that each team thread's share is checked.
 */
class CpuBackendPlainSplitTest extends CpuBackendCases {
    @Override
    CpuBackend open() { return new CpuBackend(3, CpuBackend.Tuning.defaults().splitEverything().withVectorKernels(false)); }

    @Override
    boolean splitsEverything() { return true; }
}
