// EmulatedDevices: the devices the test build's CUDA emulator provides (pom: BPTT_CUDA_EMULATOR_CC), and a guard for tests needing it.
package bptt.backend.cuda;

import bptt.conformance.TestBackends;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;

/**
 * The test build runs every test with bptt's emulated CUDA driver on LD_LIBRARY_PATH and
 * BPTT_CUDA_EMULATOR=1 (the cuda-emulator profile of the pom; gcc builds the emulator). Tests of
 * the emulator itself, and of what only the emulator can show, call {@link #require}: without
 * the emulator (no gcc, or scripts/gpu-check on a real GPU, which turns the profile off) they are
 * skipped with the reason, unless the profile is on and BPTT_REQUIRE_BACKENDS names cuda (CI):
 * then that is a failure.
 */
final class EmulatedDevices {
    private EmulatedDevices() { }

    /** sm_86: what {@code --backend cuda} opens by default; kernels load as a CUBIN. */
    static final int SM_86 = 0;
    /** sm_120: newer than NVRTC 12.6 knows; kernels load as PTX for compute_90. */
    static final int SM_120 = 1;
    /** sm_75: used only by CudaEmulatorTest, whose faults poison (and then destroy) its context. */
    static final int SM_75 = 2;

    static void require() {
        CudaProbe.Result probe = CudaProbe.get();
        if (probe.available() && probe.emulated() && probe.devices().size() == 3) {
            return;
        }
        String why = "bptt's CUDA emulator with 3 devices is not what libcuda.so.1 provides here: "
                + (probe.available() ? probe.devices() : probe.reason());
        if (TestBackends.required().contains("cuda") && "1".equals(System.getenv(CudaProbe.EMULATOR_VARIABLE))) {
            Assertions.fail(why + " (cuda is required by BPTT_REQUIRE_BACKENDS; the test build makes the emulator"
                    + " with gcc)");
        }
        Assumptions.abort(why);
    }
}
