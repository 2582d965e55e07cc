// CudaBackendTest: the cuda backend itself, through the real JCuda natives, on the emulated driver and cuBLAS.
package bptt.backend.cuda;

import bptt.backend.Backend;
import bptt.backend.BackendProvider;
import bptt.backend.Backends;
import bptt.backend.DeviceOutOfMemoryException;
import bptt.backend.ref.CpuRefBackend;
import bptt.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.File;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Opens the real {@link CudaBackend}: every call goes through JCuda's JNI libraries into the
 * emulated libcuda.so.1 / libcublas.so.12 and the real NVRTC. What depends on the process's
 * environment (emulator memory, driver version, BPTT_CUDA_SYNC, the absence of a driver) runs
 * in a child JVM.
 */
class CudaBackendTest {
    @BeforeEach
    void needEmulator() { EmulatedDevices.require(); }

    private static float[] random(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextDouble(-1, 1);
        }
        return x;
    }

    /** A GEMM, a fused kernel and a reduction on a fresh backend; returns their results as one array. */
    private static float[] someWork(Backend be) {
        SplittableRandom r = new SplittableRandom(3);
        Tensor a = be.alloc(17, 33);
        Tensor b = be.alloc(9, 33);
        Tensor c = be.alloc(17, 9);
        Tensor bias = be.alloc(1, 9);
        Tensor sums = be.alloc(1, 9);
        be.upload(random(r, 17 * 33), a);
        be.upload(random(r, 9 * 33), b);
        be.upload(random(r, 9), bias);
        be.gemm(false, a, true, b, 1f, 0f, c);
        be.biasTanh(c, bias);
        be.sumRows(c, 0f, sums);
        float[] out = new float[17 * 9 + 9 + 1];
        System.arraycopy(be.download(c), 0, out, 0, 17 * 9);
        System.arraycopy(be.download(sums), 0, out, 17 * 9, 9);
        out[out.length - 1] = (float) be.sumOfSquares(c);
        return out;
    }

    @Test
    void openCloseAndOpenAgainInOneJvm() {
        float[] first;
        try (Backend cuda = CudaBackend.open(EmulatedDevices.SM_86)) {
            first = someWork(cuda);
        }
        for (int i = 0; i < 3; i++) {
            try (Backend cuda = CudaBackend.open(EmulatedDevices.SM_86)) {
                assertArrayEquals(first, someWork(cuda), "open #" + (i + 2) + " computes the same");
                assertTrue(cuda.allocatedBytes() > 0);
            }
        }
        float[] ref = someWork(CpuRefBackend.float32());
        for (int i = 0; i < ref.length; i++) {
            assertEquals(ref[i], first[i], 2e-6 + 2e-6 * Math.abs(ref[i]), "element " + i + " vs cpu-ref");
        }
    }

    @Test
    void theEmulatorNeverPassesForAGpu() {
        BackendProvider cuda = Backends.provider("cuda");
        assertTrue(cuda.probe().available(), cuda.probe().reason());
        assertTrue(cuda.probe().reason().contains("EMULATED"), cuda.probe().reason());
        assertFalse(cuda.preferredForAuto(), "auto must never pick the emulator");
        try (Backend auto = Backends.open("auto", -1)) {
            assertNotEquals("cuda", auto.name());
        }
        assertTrue(cuda.devices().get(0).contains("bptt CUDA emulator") && cuda.devices().get(0).contains("not a GPU"),
                cuda.devices().toString());
        try (Backend be = Backends.open("cuda", -1)) {
            assertTrue(be.deviceDescription().contains("EMULATED on the host by bptt's test emulator: timings are not"
                    + " GPU timings"), be.deviceDescription());
            assertTrue(be.deviceDescription().contains("CUBIN for sm_86"), be.deviceDescription());
        }
    }

    @Test
    void aDeviceNewerThanNvrtcRunsThePtx() {
        try (Backend cuda = CudaBackend.open(EmulatedDevices.SM_120)) {
            assertTrue(cuda.deviceDescription().contains("PTX for compute_90"), cuda.deviceDescription());
            float[] got = someWork(cuda);
            float[] ref = someWork(CpuRefBackend.float32());
            for (int i = 0; i < ref.length; i++) {
                assertEquals(ref[i], got[i], 2e-6 + 2e-6 * Math.abs(ref[i]), "element " + i);
            }
        }
    }

    @Test
    void outOfMemoryGivesTheRealNumbersAndTheBackendCarriesOn() {
        try (Backend cuda = CudaBackend.open(EmulatedDevices.SM_86)) {
            Tensor small = cuda.alloc(1, 1000);
            DeviceOutOfMemoryException e = assertThrows(DeviceOutOfMemoryException.class,
                    () -> cuda.alloc(1 << 20, 1 << 10));
            String m = e.getMessage();
            assertTrue(m.startsWith("CUDA device out of memory: requested 4294967296 bytes (4.00 GiB), free "), m);
            assertTrue(m.contains("of 4294967296 bytes (4.00 GiB) (bptt holds 4000 bytes (3.91 KiB))"), m);
            cuda.fill(small, 2f);
            assertEquals(4000.0, cuda.sumOfSquares(small));
        }
    }

    @Test
    void aClosedBackendAndAMissingDeviceAreClearErrors() {
        IllegalArgumentException missing = assertThrows(IllegalArgumentException.class, () -> CudaBackend.open(7));
        assertTrue(missing.getMessage().contains("cuda device 7 does not exist; this machine has 3"),
                missing.getMessage());
        Backend cuda = CudaBackend.open(EmulatedDevices.SM_86);
        Tensor t = cuda.alloc(2, 3);
        cuda.close();
        cuda.close();
        IllegalStateException closed = assertThrows(IllegalStateException.class, () -> cuda.fill(t, 1f));
        assertTrue(closed.getMessage().contains("is closed"), closed.getMessage());
    }

    // ---- in a JVM of their own -----------------------------------------------------------------

    @Test
    void aMisconfiguredEmulatorOrOneWithoutDevicesIsUnavailableWithTheReason() {
        JvmProcess.Result bad = JvmProcess.run(Map.of("BPTT_CUDA_EMULATOR_MEMORY", "lots"), "bptt.cli.Main", "devices");
        assertTrue(bad.output().contains("BPTT_CUDA_EMULATOR_MEMORY='lots' is not a size"), bad.output());
        assertTrue(bad.output().contains("cuda: unavailable: cuInit failed: CUDA_ERROR_INVALID_VALUE"), bad.output());
        JvmProcess.Result none = JvmProcess.run(Map.of("BPTT_CUDA_EMULATOR_CC", ""), "bptt.cli.Main", "devices");
        assertTrue(none.output().contains("cuda: unavailable: no CUDA device"), none.output());
    }

    /** The queued/ran lines of the emulator's trace, in order: "q 12" or "r 12". */
    private static List<String> trace(String output) {
        List<String> events = new ArrayList<>();
        Matcher m = Pattern.compile("emulator: (queued|ran) #(\\d+)").matcher(output);
        while (m.find()) {
            events.add(m.group(1).charAt(0) + " " + m.group(2));
        }
        return events;
    }

    @Test
    void cudaSyncWaitsAfterEveryLaunchAndEveryCublasCall() {
        Map<String, String> env = new HashMap<>(Map.of("BPTT_CUDA_EMULATOR_TRACE", "1", "BPTT_CUDA_SYNC", "1"));
        JvmProcess.Result synced = JvmProcess.run(env, CudaChildMain.class.getName(), "ops");
        assertEquals(0, synced.exit(), synced.output());
        assertTrue(synced.output().contains("cublasSgemm_v2(N,N"), synced.output());
        List<String> events = trace(synced.output());
        assertTrue(events.size() >= 12, synced.output());
        for (int i = 0; i < events.size(); i += 2) {
            assertEquals("q", events.get(i).substring(0, 1), "event " + i + " of " + events);
            assertEquals("r" + events.get(i).substring(1), events.get(i + 1),
                    "with BPTT_CUDA_SYNC=1 every queued item runs before anything else is queued: " + events);
        }
        env.remove("BPTT_CUDA_SYNC");
        JvmProcess.Result async = JvmProcess.run(env, CudaChildMain.class.getName(), "ops");
        assertEquals(0, async.exit(), async.output());
        assertEquals(synced.output().replaceAll("(?m)^bptt CUDA emulator.*\n", ""),
                async.output().replaceAll("(?m)^bptt CUDA emulator.*\n", ""), "the same result either way");
        List<String> asyncEvents = trace(async.output());
        boolean queuedBehind = false;
        for (int i = 1; i < asyncEvents.size(); i++) {
            queuedBehind |= asyncEvents.get(i - 1).startsWith("q") && asyncEvents.get(i).startsWith("q");
        }
        assertTrue(queuedBehind, "without it, work queues up until the host waits: " + asyncEvents);
    }

    @Test
    void sumOfSquaresOfATensorOfTwoToThe31MinusOneElements() {
        JvmProcess.Result r = JvmProcess.run(Map.of("BPTT_CUDA_EMULATOR_FILL", "zero", "BPTT_CUDA_EMULATOR_MEMORY", "9g"),
                CudaChildMain.class.getName(), "huge-sum");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("sum 8000.0"), r.output());
    }

    @Test
    void withoutBpttCudaEmulatorTheEmulatorIsUnavailableAndSaysWhy() {
        Map<String, String> env = new HashMap<>();
        env.put(CudaProbe.EMULATOR_VARIABLE, null);
        JvmProcess.Result devices = JvmProcess.run(env, "bptt.cli.Main", "devices");
        assertEquals(0, devices.exit(), devices.output());
        assertTrue(devices.output().contains("cuda: unavailable: the libcuda.so.1 on the library path is bptt's CUDA"
                + " emulator"), devices.output());
        assertTrue(devices.output().contains("Set BPTT_CUDA_EMULATOR=1 to use it"), devices.output());
        JvmProcess.Result run = JvmProcess.run(env, "bptt.cli.Main", "conformance", "--backend", "cuda", "--quick");
        assertEquals(2, run.exit(), run.output());
        assertTrue(run.output().startsWith("error: cuda unavailable: the libcuda.so.1"), run.output());
    }

    @Test
    void withoutADriverTheMissingLibraryIsNamed() {
        List<String> kept = new ArrayList<>();
        for (String dir : System.getenv().getOrDefault("LD_LIBRARY_PATH", "").split(File.pathSeparator)) {
            if (!new File(dir, "libcuda.so.1").exists()) {
                kept.add(dir);
            }
        }
        JvmProcess.Result r = JvmProcess.run(Map.of("LD_LIBRARY_PATH", String.join(File.pathSeparator, kept)),
                "bptt.cli.Main", "devices");
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("cuda: unavailable: libcuda.so.1 not found: the NVIDIA driver is not installed"),
                r.output());
        assertTrue(r.output().matches("(?s).*\nauto: (opencl|cpu).*"), r.output());
        JvmProcess.Result named = JvmProcess.run(Map.of("LD_LIBRARY_PATH", String.join(File.pathSeparator, kept)),
                "bptt.cli.Main", "conformance", "--backend", "cuda", "--quick");
        assertEquals(2, named.exit(), named.output());
        assertTrue(named.output().contains("error: cuda unavailable: libcuda.so.1 not found"), named.output());
        assertFalse(named.output().contains("\tat "), "no stack trace: " + named.output());
    }

    @Test
    void ptxTooNewForTheDriverMakesCudaUnavailableWithWhatToUpdate() {
        Map<String, String> env = Map.of("BPTT_CUDA_EMULATOR_CC", "12.0", "BPTT_CUDA_EMULATOR_DRIVER", "12.4");
        JvmProcess.Result r = JvmProcess.run(env, "bptt.cli.Main", "conformance", "--backend", "cuda", "--quick");
        assertEquals(2, r.exit(), r.output());
        assertTrue(r.output().contains("\nerror: cuda unavailable: this GPU (sm_120) is newer than NVRTC 12.6 knows"),
                r.output());
        assertTrue(r.output().contains("update the NVIDIA driver to release 555 or newer (CUDA 12.5)"), r.output());
        assertFalse(r.output().contains("\tat "), "no stack trace: " + r.output());
    }

    @Test
    void theEmulatedDriverRefusesPtxNewerThanItselfAndCuda11() {
        Map<String, String> cuda124 = Map.of("BPTT_CUDA_EMULATOR_CC", "12.0", "BPTT_CUDA_EMULATOR_DRIVER", "12.4");
        JvmProcess.Result ptx = JvmProcess.run(cuda124, CudaChildMain.class.getName(), "raw-ptx");
        assertTrue(ptx.output().contains("cuModuleLoadData: CUDA_ERROR_UNSUPPORTED_PTX_VERSION") && ptx.output()
                .contains("Unsupported .version 8.5; current version is '8.4' (driver CUDA 12.4)"), ptx.output());
        JvmProcess.Result cubin = JvmProcess.run(Map.of("BPTT_CUDA_EMULATOR_CC", "9.0", "BPTT_CUDA_EMULATOR_DRIVER",
                "12.0"), CudaChildMain.class.getName(), "ops");
        assertEquals(0, cubin.exit(), "a CUBIN loads on any CUDA 12 driver: " + cubin.output());
        JvmProcess.Result old = JvmProcess.run(Map.of("BPTT_CUDA_EMULATOR_DRIVER", "11.8"), "bptt.cli.Main", "devices");
        assertTrue(old.output().contains("cuda: unavailable: the NVIDIA driver supports CUDA 11.8"), old.output());
    }
}
