// CudaAbsenceTest: probing cuda never throws, explains what is missing, and `auto` falls through without it.
package bptt.backend.cuda;

import bptt.backend.BackendProvider;
import bptt.backend.Backends;
import bptt.backend.DeviceOutOfMemoryException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reasons and messages of an absent or failing CUDA, as pure functions of the loader's and
 * driver's errors. The machine-level cases (no libcuda.so.1, the emulator without
 * BPTT_CUDA_EMULATOR=1, a driver too old) run in child JVMs in {@link CudaBackendTest}, since
 * the test JVM itself has the emulated driver.
 */
class CudaAbsenceTest {

    @Test
    void cudaIsTheFirstProviderAndItsProbeNeverThrows() {
        BackendProvider cuda = Backends.providers().get(0);
        assertEquals("cuda", cuda.name());
        BackendProvider.Availability a = cuda.probe();
        assertFalse(a.reason().isBlank());
        System.out.println("cuda probe on this machine: " + (a.available() ? "available: " : "unavailable: ")
                + a.reason());
        if (!a.available()) {
            assertTrue(cuda.devices().isEmpty());
            assertFalse(cuda.preferredForAuto());
        }
    }

    @Test
    void missingLibrariesAreNamedWithWhatToInstall() {
        String driver = "java.lang.UnsatisfiedLinkError: Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"\n"
                + "Stack trace from the attempt to load the library as a resource:\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open"
                + " shared object file: No such file or directory";
        String reason = CudaProbe.explain(driver);
        assertTrue(reason.startsWith("libcuda.so.1 not found: the NVIDIA driver is not installed"), reason);
        assertFalse(reason.contains("libJCudaDriver"), reason);

        String cublas = "java.lang.UnsatisfiedLinkError: /tmp/libJCublas2-12.6.0-linux-x86_64.so: libcublas.so.12:"
                + " cannot open shared object file: No such file or directory";
        assertTrue(CudaProbe.explain(cublas).startsWith("libcublas.so.12 not found: install the CUDA 12.x toolkit with cuBLAS"));
        String lt = "/usr/local/cuda-12.6/lib64/libcublas.so.12: libcublasLt.so.12: cannot open shared object file";
        assertTrue(CudaProbe.explain(lt).startsWith("libcublasLt.so.12 not found"), CudaProbe.explain(lt));
        String nvrtc = "/tmp/libJNvrtc-12.6.0-linux-x86_64.so: libnvrtc.so.12: cannot open shared object file";
        assertTrue(CudaProbe.explain(nvrtc).startsWith("libnvrtc.so.12 not found: install the CUDA 12.x runtime compiler NVRTC"));

        String old = "/tmp/libJCudaDriver-12.6.0-linux-x86_64.so: undefined symbol: cuGraphInstantiateWithParams";
        assertTrue(CudaProbe.explain(old).contains("lack cuGraphInstantiateWithParams"), CudaProbe.explain(old));
        assertTrue(CudaProbe.explain(old).contains("525.60"));

        String arch = "java.lang.UnsatisfiedLinkError: no JCudaDriver-12.6.0-linux-aarch64 in java.library.path: /usr/lib";
        assertTrue(CudaProbe.explain(arch).contains("no native library JCudaDriver for linux-aarch64"), CudaProbe.explain(arch));

        String later = "java.lang.NoClassDefFoundError: Could not initialize class jcuda.driver.JCudaDriver";
        assertTrue(CudaProbe.explain(later).startsWith("JCuda failed to initialise earlier"), CudaProbe.explain(later));
    }

    @Test
    void outOfMemoryGivesSizesAndAHint() {
        DeviceOutOfMemoryException e = CudaErrors.outOfMemory(3L << 30, 1L << 29, 8L << 30, 5L << 30);
        String m = e.getMessage();
        assertTrue(m.contains("requested 3221225472 bytes (3.00 GiB)"), m);
        assertTrue(m.contains("free 536870912 bytes (512.00 MiB) of 8589934592 bytes (8.00 GiB)"), m);
        assertTrue(m.contains("--batch") && m.contains("--checkpoint-every"), m);
        assertEquals("1023 bytes", CudaErrors.bytes(1023));
    }

    @Test
    void driverErrorsSayWhatToDo() {
        assertTrue(CudaErrors.hint(jcuda.driver.CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION).contains("newer than this driver"));
        assertTrue(CudaErrors.hint(jcuda.driver.CUresult.CUDA_ERROR_SYSTEM_DRIVER_MISMATCH).contains("reboot"));
        CudaErrors.CudaFailure f = assertThrows(CudaErrors.CudaFailure.class,
                () -> CudaErrors.check(jcuda.driver.CUresult.CUDA_ERROR_LAUNCH_FAILED, "kernel bias_tanh<<<1, 32, 0>>>"));
        assertTrue(f.getMessage().startsWith("kernel bias_tanh<<<1, 32, 0>>> failed: CUDA_ERROR_LAUNCH_FAILED"),
                f.getMessage());
        assertEquals("12.4", CudaProbe.cudaVersion(12040));
    }

    @Test
    void nvrtcTargetsTheDeviceOrTheHighestArchitectureBelowIt() {
        int[] archs = {50, 52, 60, 70, 75, 80, 86, 89, 90};
        assertEquals(java.util.List.of("-arch=sm_86", "-std=c++17"), NvrtcCompiler.options(86, archs));  // CUBIN
        assertEquals(java.util.List.of("-arch=compute_86", "-std=c++17"), NvrtcCompiler.options(87, archs));  // PTX
        assertEquals(89, NvrtcCompiler.targetArch(89, archs));
        assertEquals(90, NvrtcCompiler.targetArch(120, archs));  // a GPU newer than this NVRTC: its PTX still JITs
        assertEquals(86, NvrtcCompiler.targetArch(87, archs));  // PTX for compute_86 JITs on any cc >= 8.6
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> NvrtcCompiler.targetArch(37, archs));
        assertTrue(e.getMessage().contains("compute capability 3.7"), e.getMessage());
    }
}
