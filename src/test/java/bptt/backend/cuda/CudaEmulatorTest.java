// CudaEmulatorTest: the emulated driver and cuBLAS catch what a GPU would (stale reads, NaN memory, out-of-bounds access).
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import bptt.backend.ReferenceBlas;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUevent;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstreamCaptureStatus;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.IntSupplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The emulator is test infrastructure; these tests show it is not vacuous: each thing it claims
 * to catch is provoked through the real JCuda natives and must be caught. They use emulated
 * device 2 (sm_75) alone and release its primary context after each test, which destroys it
 * and so clears a fault's sticky error, as on a GPU.
 */
class CudaEmulatorTest {
    private final CUdevice device = new CUdevice();
    private final CUcontext context = new CUcontext();
    private CUmodule module;

    @BeforeEach
    void retainContext() {
        EmulatedDevices.require();
        ok(JCudaDriver.cuDeviceGet(device, EmulatedDevices.SM_75));
        ok(JCudaDriver.cuDevicePrimaryCtxRetain(context, device));
        ok(JCudaDriver.cuCtxSetCurrent(context));
        module = new CUmodule();
        ok(JCudaDriver.cuModuleLoadData(module, NvrtcCompiler.image(75, 12060).bytes()));
    }

    @AfterEach
    void destroyContext() {
        JCudaDriver.cuCtxSetCurrent(context);
        JCudaDriver.cuDevicePrimaryCtxRelease(device);
        JCudaDriver.cuCtxSetCurrent(new CUcontext());
    }

    private static void ok(int result) { assertEquals(CUresult.CUDA_SUCCESS, result, CUresult.stringFor(result)); }

    private static String errorText(int result) {
        String[] text = new String[1];
        JCudaDriver.cuGetErrorString(result, text);
        return text[0];
    }

    /** Waits for s; the wait must report CUDA_ERROR_ILLEGAL_ADDRESS with {@code what} in the driver's text. */
    private static void assertFaultNamed(CUstream s, String what) {
        int result = JCudaDriver.cuStreamSynchronize(s);
        assertEquals(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, result);
        assertTrue(errorText(result).contains(what), errorText(result));
    }

    private static CUdeviceptr alloc(long floats) {
        CUdeviceptr p = new CUdeviceptr();
        ok(JCudaDriver.cuMemAlloc(p, floats * Sizeof.FLOAT));
        return p;
    }

    private static float[] read(CUdeviceptr p, int floats) {
        float[] out = new float[floats];
        ok(JCudaDriver.cuMemcpyDtoH(Pointer.to(out), p, (long) floats * Sizeof.FLOAT));
        return out;
    }

    /** Queues kernel fill(x, xOff, n, value) on stream; returns the launch's result. */
    private int fill(CUstream stream, CUdeviceptr x, int offset, int n, float value, int sharedBytes) {
        CUfunction f = new CUfunction();
        ok(JCudaDriver.cuModuleGetFunction(f, module, "fill"));
        Pointer params = Pointer.to(Pointer.to(x), Pointer.to(new int[] {offset}), Pointer.to(new int[] {n}),
                Pointer.to(new float[] {value}));
        return JCudaDriver.cuLaunchKernel(f, (n + 31) / 32, 1, 1, 32, 1, 1, sharedBytes, stream, params, null);
    }

    private static CUstream stream(int flags) {
        CUstream s = new CUstream();
        ok(JCudaDriver.cuStreamCreate(s, flags));
        return s;
    }

    @Test
    void theDevicesAreNamedEmulatorAndFreshMemoryIsNaN() {
        byte[] name = new byte[128];
        ok(JCudaDriver.cuDeviceGetName(name, name.length, device));
        assertTrue(new String(name).startsWith("bptt CUDA emulator (sm_75"), new String(name).trim());
        float[] fresh = read(alloc(1000), 1000);
        for (float v : fresh) {
            assertEquals(0x7fc00000, Float.floatToRawIntBits(v), "fresh device memory is NaN");
        }
    }

    @Test
    void workRunsOnlyWhenTheHostWaitsForIt() {
        CUdeviceptr x = alloc(64);
        CUstream independent = stream(CUstream_flags.CU_STREAM_NON_BLOCKING);
        ok(fill(independent, x, 0, 64, 3f, 0));
        assertTrue(Float.isNaN(read(x, 64)[0]), "a synchronous copy does not wait for a non-blocking stream:"
                + " without a synchronisation the host reads stale memory, as on a GPU");
        ok(JCudaDriver.cuStreamSynchronize(independent));
        assertEquals(3f, read(x, 64)[63]);

        CUevent event = new CUevent();
        ok(JCudaDriver.cuEventCreate(event, 0));
        ok(fill(independent, x, 0, 64, 4f, 0));
        ok(JCudaDriver.cuEventRecord(event, independent));
        ok(fill(independent, x, 0, 32, 5f, 0));
        ok(JCudaDriver.cuEventSynchronize(event));
        float[] atEvent = read(x, 64);
        assertEquals(4f, atEvent[0], "the event waits for the work before it ...");
        assertEquals(4f, atEvent[63]);
        assertEquals(CUresult.CUDA_ERROR_NOT_READY, JCudaDriver.cuStreamQuery(independent), "... and not after it");
        assertEquals(5f, read(x, 64)[0]);

        CUstream blocking = stream(CUstream_flags.CU_STREAM_DEFAULT);
        ok(fill(blocking, x, 0, 64, 6f, 0));
        assertEquals(6f, read(x, 64)[10], "a synchronous copy waits for the blocking streams (legacy NULL stream)");
    }

    @Test
    void aKernelWritingPastItsAllocationIsNamed() {
        CUdeviceptr x = alloc(100);
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        ok(fill(s, x, 0, 101, 1f, 0));
        assertFaultNamed(s, "kernel fill<<<4, 32>>>: invalid write: address 0x");
        assertTrue(errorText(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS).contains("0 bytes after the end of a 400-byte"
                + " allocation"), errorText(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS));
        assertEquals(CUresult.CUDA_ERROR_ILLEGAL_ADDRESS, JCudaDriver.cuCtxSynchronize(), "the error is sticky");
    }

    @Test
    void aKernelWritingBeforeItsAllocationIsNamed() {
        CUdeviceptr x = alloc(100);
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        ok(fill(s, x, -1, 10, 1f, 0));
        assertFaultNamed(s, "kernel fill<<<1, 32>>>: invalid write before the start of a 400-byte allocation");
    }

    @Test
    void aKernelUsingFreedMemoryIsNamed() {
        CUdeviceptr x = alloc(100);
        ok(JCudaDriver.cuMemFree(x));
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        ok(fill(s, x, 0, 10, 1f, 0));
        assertFaultNamed(s, "that cuMemFree already freed");
    }

    @Test
    void launchesADriverWouldRejectAreRejected() {
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        CUdeviceptr x = alloc(64);
        int shared = fill(s, x, 0, 64, 1f, 1024);
        assertEquals(CUresult.CUDA_ERROR_NOT_SUPPORTED, shared);
        assertTrue(errorText(shared).contains("kernel fill asks for 1024 bytes of dynamic shared memory"),
                errorText(shared));
        CUfunction f = new CUfunction();
        int missing = JCudaDriver.cuModuleGetFunction(f, module, "no_such_kernel");
        assertEquals(CUresult.CUDA_ERROR_NOT_FOUND, missing);
        assertTrue(errorText(missing).contains("no entry named no_such_kernel"), errorText(missing));
        ok(JCudaDriver.cuModuleGetFunction(f, module, "fill"));
        Pointer params = Pointer.to(Pointer.to(x), Pointer.to(new int[] {0}), Pointer.to(new int[] {64}),
                Pointer.to(new float[] {1f}));
        assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE,
                JCudaDriver.cuLaunchKernel(f, 1, 1, 1, 2048, 1, 1, 0, s, params, null), "2048 threads per block");
    }

    /**
     * End to end with a kernel that uses shared memory and a barrier: an emulator generated and
     * built from a program holding it (as the test build does from kernels/), the real NVRTC
     * CUBIN of the same program, and cuModuleGetFunction, which must refuse that kernel by name.
     */
    @Test
    void aKernelWithABarrierIsRefusedByName(@TempDir Path dir) throws Exception {
        String bodies = "KERNEL void ok_kernel(GLOBAL float* RESTRICT x, int xOff, int n, float v)\n{\n"
                + "    const int i = GLOBAL_ID();\n    if (i < n) x[xOff + i] = v;\n}\n"
                + "KERNEL void reduce(GLOBAL const float* RESTRICT x, int xOff, GLOBAL float* RESTRICT out, int outOff)\n"
                + "{\n    __shared__ float part[32];\n    part[threadIdx.x] = x[xOff + GLOBAL_ID()];\n"
                + "    __syncthreads();\n    if (threadIdx.x == 0) out[outOff] = part[0] + part[31];\n}\n";
        Files.writeString(dir.resolve("host_kernels.c"),
                HostKernels.generate(KernelSource.read(KernelSource.Api.HOST.preludeFile()) + bodies));
        Process build = new ProcessBuilder("bash", "src/test/native/build", dir.toString()).redirectErrorStream(true)
                .start();
        String built = new String(build.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, build.waitFor(), built);
        Path cuda = dir.resolve("program.cu");
        Files.writeString(cuda, KernelSource.read(KernelSource.Api.CUDA.preludeFile()) + bodies);
        List<String> path = new ArrayList<>(List.of(dir.toString()));
        for (String entry : System.getenv("LD_LIBRARY_PATH").split(File.pathSeparator)) {
            if (!new File(entry, "libcuda.so.1").exists()) {
                path.add(entry);                            // NVRTC's directory
            }
        }
        JvmProcess.Result r = JvmProcess.run(Map.of("LD_LIBRARY_PATH", String.join(File.pathSeparator, path),
                "BPTT_CUDA_EMULATOR_CC", "8.6"), CudaChildMain.class.getName(), "functions", cuda.toString(),
                "ok_kernel", "reduce");
        assertTrue(r.output().contains("cuModuleLoadData: CUDA_SUCCESS"), r.output());
        assertTrue(r.output().contains("ok_kernel: CUDA_SUCCESS"), r.output());
        assertTrue(r.output().contains("reduce: CUDA_ERROR_NOT_SUPPORTED (operation not supported; bptt CUDA emulator:"
                + " kernel reduce uses __shared__ (barriers, shared memory or cross-thread operations)"), r.output());
    }

    @Test
    void imagesForAnotherArchitectureDoNotLoad() {
        CUmodule other = new CUmodule();
        int cubin = JCudaDriver.cuModuleLoadData(other, NvrtcCompiler.image(86, 12060).bytes());
        assertEquals(CUresult.CUDA_ERROR_NO_BINARY_FOR_GPU, cubin);
        assertTrue(errorText(cubin).contains("a CUBIN for sm_86 cannot run on this sm_75 device"), errorText(cubin));
        int ptx = JCudaDriver.cuModuleLoadData(other, NvrtcCompiler.image(120, 12060).bytes());
        assertEquals(CUresult.CUDA_ERROR_INVALID_PTX, ptx);
        assertTrue(errorText(ptx).contains(".target sm_90 is above this sm_75 device"), errorText(ptx));
    }

    @Test
    void memoryIsLimitedToTheEmulatedSize() {
        long[] free = new long[1];
        long[] total = new long[1];
        ok(JCudaDriver.cuMemGetInfo(free, total));
        assertEquals(4L << 30, total[0], "the default emulated memory");
        CUdeviceptr p = new CUdeviceptr();
        int result = JCudaDriver.cuMemAlloc(p, free[0] + 4);
        assertEquals(CUresult.CUDA_ERROR_OUT_OF_MEMORY, result);
        assertTrue(errorText(result).contains((free[0] + 4) + " bytes requested, " + free[0] + " of "
                + total[0] + " free"), errorText(result));
        alloc(1 << 20);
        long[] after = new long[1];
        ok(JCudaDriver.cuMemGetInfo(after, total));
        assertEquals(free[0] - (4L << 20), after[0]);
    }

    // ---- cuBLAS ------------------------------------------------------------------------------

    private static cublasHandle cublas(CUstream s) {
        cublasHandle h = new cublasHandle();
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, JCublas2.cublasCreate(h));
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, JCublas2.cublasSetStream(h, new cudaStream_t(s)));
        return h;
    }

    private static int sgemm(cublasHandle h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr a, int lda,
                             CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
        return JCublas2.cublasSgemm(h, ta, tb, m, n, k, Pointer.to(new float[] {alpha}), a, lda, b, ldb,
                Pointer.to(new float[] {beta}), c, ldc);
    }

    @Test
    void sgemmIsReferenceBlasBitForBit() {
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        cublasHandle h = cublas(s);
        SplittableRandom random = new SplittableRandom(11);
        int m = 7, n = 5, k = 9, lda = 10, ldb = 11, ldc = 8;
        float[] a = new float[lda * 10], b = new float[ldb * 10], c = new float[ldc * n];
        for (float[] x : new float[][] {a, b, c}) {
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) random.nextDouble(-1, 1);
            }
        }
        for (int ta = 0; ta <= 1; ta++) {
            for (int tb = 0; tb <= 1; tb++) {
                for (float beta : new float[] {0f, 0.5f}) {
                    CUdeviceptr da = alloc(a.length), db = alloc(b.length), dc = alloc(c.length);
                    float[] cIn = c.clone();
                    if (beta == 0f) {
                        Arrays.fill(cIn, Float.NaN);      // beta = 0: C is not read, NaN must not propagate
                    }
                    ok(JCudaDriver.cuMemcpyHtoD(da, Pointer.to(a), (long) a.length * Sizeof.FLOAT));
                    ok(JCudaDriver.cuMemcpyHtoD(db, Pointer.to(b), (long) b.length * Sizeof.FLOAT));
                    ok(JCudaDriver.cuMemcpyHtoD(dc, Pointer.to(cIn), (long) c.length * Sizeof.FLOAT));
                    assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS,
                            sgemm(h, ta, tb, m, n, k, 1.5f, da, lda, db, ldb, beta, dc, ldc));
                    float[] want = cIn.clone();
                    ReferenceBlas.sgemm(ta == 0 ? 'N' : 'T', tb == 0 ? 'N' : 'T', m, n, k, 1.5f, a, 0, lda, b, 0,
                            ldb, beta, want, 0, ldc);
                    assertArrayEquals(want, read(dc, c.length), "transa=" + ta + " transb=" + tb + " beta=" + beta);
                }
            }
        }
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, JCublas2.cublasDestroy(h));
    }

    @Test
    void sgemmArgumentsAreCheckedAsCublasDoesAndItsExtentsAgainstTheAllocations() {
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        cublasHandle h = cublas(s);
        CUdeviceptr a = alloc(100), b = alloc(100), c = alloc(99);
        assertEquals(cublasStatus.CUBLAS_STATUS_INVALID_VALUE, sgemm(h, 0, 0, 10, 10, 10, 1f, a, 9, b, 10, 0f, c, 10),
                "lda < m");
        assertEquals(cublasStatus.CUBLAS_STATUS_INVALID_VALUE, sgemm(h, 0, 0, -1, 10, 10, 1f, a, 10, b, 10, 0f, c, 10),
                "m < 0");
        assertEquals(cublasStatus.CUBLAS_STATUS_INVALID_VALUE, sgemm(h, 7, 0, 10, 10, 10, 1f, a, 10, b, 10, 0f, c, 10),
                "transa");
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, sgemm(h, 0, 0, 10, 10, 10, 1f, a, 10, b, 10, 0f, c, 10),
                "valid arguments: the extents are checked when the stream runs it, as a GPU would fault then");
        assertFaultNamed(s, "cublasSgemm_v2(N,N, m=10, n=10, k=10, lda=10, ldb=10, ldc=10): C (10 x 10, ld 10) is"
                + " outside its allocation: 400 bytes from");
    }

    @Test
    void aHandleOutlivingItsContextIsRefused() {
        cublasHandle h = cublas(stream(CUstream_flags.CU_STREAM_DEFAULT));
        JCudaDriver.cuDevicePrimaryCtxRelease(device);              // the last retain: the context is destroyed
        ok(JCudaDriver.cuDevicePrimaryCtxRetain(context, device));  // a new primary context
        ok(JCudaDriver.cuCtxSetCurrent(context));
        CUdeviceptr x = alloc(1);
        assertEquals(cublasStatus.CUBLAS_STATUS_NOT_INITIALIZED, sgemm(h, 0, 0, 1, 1, 1, 1f, x, 1, x, 1, 0f, x, 1));
        assertEquals(cublasStatus.CUBLAS_STATUS_NOT_INITIALIZED, JCublas2.cublasDestroy(h));
    }

    // ---- stream capture and graphs -------------------------------------------------------------

    /** Page-locked host memory of n floats and a view of it. */
    private static FloatBuffer pinned(Pointer host, int n) {
        ok(JCudaDriver.cuMemAllocHost(host, (long) n * Sizeof.FLOAT));
        return host.getByteBuffer(0, (long) n * Sizeof.FLOAT).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private static CUgraphExec endAndInstantiate(CUstream s) {
        CUgraph graph = new CUgraph();
        ok(JCudaDriver.cuStreamEndCapture(s, graph));
        CUgraphExec exec = new CUgraphExec();
        ok(JCudaDriver.cuGraphInstantiate(exec, graph, 0));
        ok(JCudaDriver.cuGraphDestroy(graph));
        return exec;
    }

    /**
     * A captured graph records a copy from pinned memory, a kernel and a cuBLAS call, runs nothing
     * while being captured, and every launch computes on what memory holds when it runs: new host
     * input, and device values changed between launches, give the new result.
     */
    @Test
    void aGraphRecordsTheWorkAndEveryLaunchComputesOnTheCurrentValues() {
        CUstream s = stream(CUstream_flags.CU_STREAM_NON_BLOCKING);     // synchronous copies do not wait for it
        cublasHandle h = cublas(s);
        Pointer host = new Pointer();
        FloatBuffer staging = pinned(host, 4);
        CUdeviceptr x = alloc(4), w = alloc(4), y = alloc(4);
        ok(JCudaDriver.cuMemcpyHtoD(w, Pointer.to(new float[] {1, 2, 3, 4}), 4L * Sizeof.FLOAT));
        staging.put(0, new float[] {1, 1, 1, 1});

        ok(JCudaDriver.cuStreamBeginCapture(s, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL));
        int[] status = new int[1];
        ok(JCudaDriver.cuStreamIsCapturing(s, status));
        assertEquals(CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_ACTIVE, status[0]);
        ok(JCudaDriver.cuMemcpyHtoDAsync(x, host, 4L * Sizeof.FLOAT, s));
        ok(fill(s, y, 0, 1, 0f, 0));                                          // y[0] = 0, then y[0] += 2·x·w
        assertEquals(cublasStatus.CUBLAS_STATUS_SUCCESS, sgemm(h, 1, 0, 1, 1, 4, 2f, x, 4, w, 4, 1f, y, 1));
        CUgraphExec exec = endAndInstantiate(s);
        assertTrue(Float.isNaN(read(x, 4)[0]) && Float.isNaN(read(y, 1)[0]), "capturing runs nothing");

        ok(JCudaDriver.cuGraphLaunch(exec, s));
        ok(JCudaDriver.cuStreamSynchronize(s));
        assertEquals(20f, read(y, 1)[0], "2·(1+2+3+4)");

        staging.put(0, new float[] {0, 0, 0, 10});                            // new input in the staging buffer
        ok(JCudaDriver.cuMemcpyHtoD(w, Pointer.to(new float[] {1, 2, 3, 5}), 4L * Sizeof.FLOAT));
        ok(JCudaDriver.cuGraphLaunch(exec, s));
        ok(JCudaDriver.cuGraphLaunch(exec, s));
        assertEquals(20f, read(y, 1)[0], "a launched graph runs only when the host waits for its stream");
        ok(JCudaDriver.cuStreamSynchronize(s));
        assertEquals(100f, read(y, 1)[0], "2·10·5: the copy read the new host values, the GEMM the new weights");
        assertArrayEquals(new float[] {0, 0, 0, 10}, read(x, 4));
        ok(JCudaDriver.cuGraphExecDestroy(exec));
        ok(JCudaDriver.cuMemFreeHost(host));
    }

    /** What the driver forbids while a stream is captured fails there too, and the capture then fails at its end. */
    @Test
    void whatACaptureForbidsFailsAndInvalidatesIt() {
        CUstream s = stream(CUstream_flags.CU_STREAM_DEFAULT);
        CUdeviceptr x = alloc(4);
        float[] host = new float[4];
        int[] forbidden = {
            captureThen(s, x, () -> JCudaDriver.cuMemcpyHtoD(x, Pointer.to(host), 16)),
            captureThen(s, x, () -> JCudaDriver.cuMemcpyDtoH(Pointer.to(host), x, 16)),
            captureThen(s, x, () -> JCudaDriver.cuStreamSynchronize(s)),
            captureThen(s, x, JCudaDriver::cuCtxSynchronize),
            captureThen(s, x, () -> JCudaDriver.cuMemAlloc(new CUdeviceptr(), 16)),
            captureThen(s, x, () -> JCudaDriver.cuMemcpyHtoDAsync(x, Pointer.to(host), 16, s)),
        };
        assertArrayEquals(new int[] {CUresult.CUDA_ERROR_STREAM_CAPTURE_IMPLICIT,
            CUresult.CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
            CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
            CUresult.CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED}, forbidden);
        assertTrue(errorText(CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED).contains("cuMemcpyHtoDAsync from pageable"
                + " host memory"), errorText(CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED));
        assertEquals(CUresult.CUDA_ERROR_INVALID_VALUE, JCudaDriver.cuStreamBeginCapture(new CUstream(),
                CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL), "the legacy stream cannot be captured");
        ok(fill(s, x, 0, 4, 7f, 0));
        ok(JCudaDriver.cuStreamSynchronize(s));
        assertEquals(7f, read(x, 4)[3], "after a failed capture the stream works as before");
    }

    /**
     * Begins a capture on s, records a fill of x, makes a call, ends the capture (which must fail
     * as invalidated); returns the call's result.
     */
    private int captureThen(CUstream s, CUdeviceptr x, IntSupplier call) {
        ok(JCudaDriver.cuStreamBeginCapture(s, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL));
        ok(fill(s, x, 0, 4, 0f, 0));
        int result = call.getAsInt();
        int[] status = new int[1];
        ok(JCudaDriver.cuStreamIsCapturing(s, status));
        assertEquals(CUstreamCaptureStatus.CU_STREAM_CAPTURE_STATUS_INVALIDATED, status[0]);
        assertEquals(CUresult.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, JCudaDriver.cuStreamEndCapture(s, new CUgraph()));
        return result;
    }
}
