// CudaBackend: the Backend on an NVIDIA GPU: device memory, cuBLAS GEMM, NVRTC-compiled kernels/ on one stream.
package bptt.backend.cuda;

import bptt.backend.AbstractBackend;
import bptt.backend.BackendUnavailableException;
import bptt.backend.DeviceOutOfMemoryException;
import bptt.backend.KernelSource;
import bptt.backend.StagingBuffer;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JITOptions;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import jcuda.runtime.cudaStream_t;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK;
import static jcuda.driver.CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK;
import static jcuda.driver.CUjit_option.CU_JIT_ERROR_LOG_BUFFER;
import static jcuda.driver.CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES;

/**
 * One GPU, one stream and one cuBLAS handle bound to that stream, in the device's primary
 * context. Every op is queued on the stream: GEMMs as the cublasSgemm call of
 * {@link CublasSgemmArgs#forGemm}, elementwise ops and reductions as the kernels of
 * {@code kernels/} (compiled by {@link NvrtcCompiler} and loaded when the backend opens, so a
 * toolchain or driver problem makes the backend unavailable, never a run fail midway; launched
 * as {@link LaunchConfig} says). Nothing returns to the host inside a time step; only upload,
 * download and sumOfSquares wait for the stream. With BPTT_CUDA_SYNC=1 the host waits after
 * everything it queues (every launch, cuBLAS call and memset), so an asynchronous fault names
 * its kernel or GEMM.
 *
 * <p>The primary context of a device is retained once per JVM and never released: closing a
 * backend frees its memory, module, stream and cuBLAS handle, and a backend opened later in
 * the same JVM finds the same context, so no cuBLAS state ever outlives the context it was
 * made in (releasing the last retain would destroy the context under cuBLAS's feet).
 */
public final class CudaBackend extends AbstractBackend {
    private static final int JIT_LOG_BYTES = 16 * 1024;
    private static final Map<Integer, CUcontext> PRIMARY_CONTEXTS = new HashMap<>();

    private final int ordinal;
    private final CudaProbe.Device info;
    private final boolean syncEachCall = "1".equals(System.getenv("BPTT_CUDA_SYNC"));
    private final CUdevice device = new CUdevice();
    private final CUcontext context;
    private final CUstream stream = new CUstream();
    private final cublasHandle cublas = new cublasHandle();
    private final LaunchConfig.Limits limits;
    private final Map<CudaMemory, Boolean> live = new IdentityHashMap<>();
    private final Set<CudaStaging> pinned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final String description;
    private CUmodule module;
    private Tensor scratch;       // (1, SUM_PARTS + 1): sum-of-squares partials, then the total
    private boolean closed;
    private boolean streamCreated;
    private boolean cublasCreated;

    /** One allocation on this backend's device. */
    private static final class CudaMemory implements DeviceMemory {
        final CUdeviceptr ptr = new CUdeviceptr();
        final long floats;
        final CudaBackend owner;

        CudaMemory(CudaBackend owner, long floats) {
            this.owner = owner;
            this.floats = floats;
        }

        @Override
        public long capacity() { return floats; }

        @Override
        public Object owner() { return owner; }
    }

    /**
     * Opens device {@code ordinal} (-1: device 0): creates the stream and cuBLAS handle, compiles
     * and loads the kernels. Throws BackendUnavailableException, with the reason, when any of it fails.
     */
    public static CudaBackend open(int ordinal) {
        CudaProbe.Result probe = CudaProbe.get();
        if (!probe.available()) {
            throw new BackendUnavailableException("cuda", probe.reason());
        }
        int chosen = ordinal < 0 ? 0 : ordinal;
        if (chosen >= probe.devices().size()) {
            throw new IllegalArgumentException("cuda device " + ordinal + " does not exist; this machine has "
                    + probe.devices().size() + " (see 'bptt devices')");
        }
        try {
            return new CudaBackend(probe.devices().get(chosen), probe.driverVersion());
        } catch (CudaErrors.CudaFailure | IllegalStateException | DeviceOutOfMemoryException e) {
            throw new BackendUnavailableException("cuda", e.getMessage());
        }
    }

    /** The primary context of a device, retained on first use and kept for the life of the JVM. */
    private static synchronized CUcontext primaryContext(int ordinal, CUdevice device) {
        CUcontext context = PRIMARY_CONTEXTS.get(ordinal);
        if (context == null) {
            context = new CUcontext();
            CudaErrors.check(JCudaDriver.cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
            PRIMARY_CONTEXTS.put(ordinal, context);
        }
        return context;
    }

    private CudaBackend(CudaProbe.Device info, int driverVersion) {
        this.ordinal = info.ordinal();
        this.info = info;
        CudaErrors.check(JCudaDriver.cuDeviceGet(device, ordinal), "cuDeviceGet(" + ordinal + ")");
        this.context = primaryContext(ordinal, device);
        boolean ok = false;
        try {
            bind();
            CudaErrors.check(JCudaDriver.cuStreamCreate(stream, CUstream_flags.CU_STREAM_DEFAULT), "cuStreamCreate");
            streamCreated = true;
            CudaErrors.checkCublas(JCublas2.cublasCreate(cublas), "cublasCreate");
            cublasCreated = true;
            CudaErrors.checkCublas(JCublas2.cublasSetStream(cublas, new cudaStream_t(stream)), "cublasSetStream");
            CudaErrors.checkCublas(JCublas2.cublasSetMathMode(cublas, cublasMath.CUBLAS_DEFAULT_MATH),
                    "cublasSetMathMode");
            this.limits = new LaunchConfig.Limits(attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK),
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X),
                    attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK));
            int[] cublasVersion = new int[1];
            CudaErrors.checkCublas(JCublas2.cublasGetVersion(cublas, cublasVersion), "cublasGetVersion");
            NvrtcCompiler.Image image = NvrtcCompiler.image(info.major() * 10 + info.minor(), driverVersion);
            this.module = loadModule(image);
            for (String kernel : KernelSource.kernelNames()) {
                CUfunction f = new CUfunction();
                CudaErrors.check(JCudaDriver.cuModuleGetFunction(f, module, kernel),
                        "cuModuleGetFunction(" + kernel + ") in the " + image.describe());
                functions.put(kernel, f);
            }
            this.description = info.name() + " (sm_" + info.major() + info.minor() + ", "
                    + CudaErrors.bytes(info.totalBytes()) + "), driver CUDA " + CudaProbe.cudaVersion(driverVersion)
                    + ", NVRTC " + NvrtcCompiler.version() + " " + image.describe() + ", cuBLAS " + cublasVersion[0]
                    + (info.emulated() ? "; EMULATED on the host by bptt's test emulator: timings are not GPU timings"
                    : "");
            CudaMemory scratchMemory = new CudaMemory(this, LaunchConfig.SUM_PARTS + 1L);
            deviceAlloc(scratchMemory);
            this.scratch = new Tensor(scratchMemory, 0, 1, LaunchConfig.SUM_PARTS + 1, LaunchConfig.SUM_PARTS + 1);
            ok = true;
        } finally {
            if (!ok) {
                release();
            }
        }
    }

    private int attribute(int attribute) {
        int[] value = new int[1];
        CudaErrors.check(JCudaDriver.cuDeviceGetAttribute(value, attribute, device), "cuDeviceGetAttribute");
        return value[0];
    }

    /** Makes this backend's context current on the calling thread (the driver keeps one per thread). */
    private void bind() {
        if (closed) {
            throw new IllegalStateException("cuda backend on device " + ordinal + " is closed");
        }
        CudaErrors.check(JCudaDriver.cuCtxSetCurrent(context), "cuCtxSetCurrent");
    }

    @Override
    public String name() { return "cuda"; }

    @Override
    public String deviceDescription() { return description; }

    // ---- memory ----------------------------------------------------------------------------

    private void deviceAlloc(CudaMemory memory) {
        long bytes = memory.floats * Sizeof.FLOAT;
        int result = JCudaDriver.cuMemAlloc(memory.ptr, bytes);
        if (result == CUresult.CUDA_ERROR_OUT_OF_MEMORY) {
            long[] free = new long[1];
            long[] total = new long[1];
            JCudaDriver.cuMemGetInfo(free, total);
            throw CudaErrors.outOfMemory(bytes, free[0], total[0], allocatedBytes());
        }
        CudaErrors.check(result, "cuMemAlloc(" + bytes + " bytes)");
        CudaErrors.check(JCudaDriver.cuMemsetD32Async(memory.ptr, 0, memory.floats, stream), "cuMemsetD32Async");
        syncIfAsked("cuMemsetD32Async");
    }

    @Override
    protected DeviceMemory allocMemory(long floats) {
        bind();
        CudaMemory memory = new CudaMemory(this, floats);
        deviceAlloc(memory);
        live.put(memory, Boolean.TRUE);
        return memory;
    }

    @Override
    protected void freeMemory(DeviceMemory memory) {
        bind();
        CudaMemory m = (CudaMemory) memory;
        if (live.remove(m) != null) {
            CudaErrors.check(JCudaDriver.cuMemFree(m.ptr), "cuMemFree");
        }
    }

    private static CudaMemory mem(Tensor t) { return (CudaMemory) t.memory(); }

    /** The device address of t's first element. */
    private static Pointer at(Tensor t, long offset) { return mem(t).ptr.withByteOffset(offset * Sizeof.FLOAT); }

    @Override
    protected void uploadHook(float[] src, Tensor dst) {
        bind();
        sync("before upload");
        CudaErrors.check(JCudaDriver.cuMemcpyHtoD(mem(dst).ptr.withByteOffset(dst.offset() * Sizeof.FLOAT),
                Pointer.to(src), (long) src.length * Sizeof.FLOAT), "cuMemcpyHtoD");
    }

    /**
     * Host staging in page-locked memory (cuMemAllocHost), so that uploads from it are truly
     * asynchronous and a graph capture records them; ids get a device scratch of maxUpload values
     * of their width, which the upload_staged kernel widens into the tensor.
     */
    private static final class CudaStaging extends StagingBuffer {
        final Pointer host;
        final CudaMemory raw;   // integers: the packed ids on the device before widening; null for floats

        CudaStaging(CudaBackend owner, Pointer host, long length, Encoding encoding, int maxUpload, CudaMemory raw) {
            super(owner, host.getByteBuffer(0, length * encoding.bytes), length, encoding, maxUpload);
            this.host = host;
            this.raw = raw;
        }

        /** The host address of value i. */
        Pointer at(long i) { return host.withByteOffset(i * encoding().bytes); }
    }

    @Override
    public StagingBuffer.Layout stagingLayout() { return new StagingBuffer.Layout(StagingBuffer.Place.PINNED, true); }

    @Override
    protected StagingBuffer allocStagingHook(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        bind();
        long bytes = length * encoding.bytes;
        Pointer host = new Pointer();
        CudaErrors.check(JCudaDriver.cuMemAllocHost(host, bytes), "cuMemAllocHost(" + bytes + " bytes) for host staging");
        CudaMemory raw = null;
        try {
            if (encoding.isInteger()) {
                raw = (CudaMemory) allocCounted(((long) maxUpload * encoding.bytes + 3) / 4);
            }
            CudaStaging staging = new CudaStaging(this, host, length, encoding, maxUpload, raw);
            ByteBuffer zero = host.getByteBuffer(0, bytes);
            byte[] zeros = new byte[(int) Math.min(bytes, 1 << 16)];
            while (zero.hasRemaining()) {
                zero.put(zeros, 0, Math.min(zeros.length, zero.remaining()));
            }
            pinned.add(staging);
            return staging;
        } catch (RuntimeException e) {
            JCudaDriver.cuMemFreeHost(host);
            if (raw != null) {
                freeCounted(raw);
            }
            throw e;
        }
    }

    @Override
    protected void freeStagingHook(StagingBuffer buffer) {
        bind();
        CudaStaging s = (CudaStaging) buffer;
        sync("before freeing host staging");   // no queued copy may still read it
        pinned.remove(s);
        CudaErrors.check(JCudaDriver.cuMemFreeHost(s.host), "cuMemFreeHost");
        if (s.raw != null) {
            freeCounted(s.raw);
        }
    }

    @Override
    protected void uploadStagedHook(StagingBuffer src, long first, Tensor dst) {
        bind();
        CudaStaging s = (CudaStaging) src;
        int width = s.encoding().bytes;
        long bytes = dst.size() * width;
        CUdeviceptr target = s.raw != null ? s.raw.ptr : mem(dst).ptr.withByteOffset(dst.offset() * Sizeof.FLOAT);
        CudaErrors.check(JCudaDriver.cuMemcpyHtoDAsync(target, s.at(first), bytes, stream), "cuMemcpyHtoDAsync");
        syncIfAsked("cuMemcpyHtoDAsync");
        if (s.raw != null) {
            launch(KernelCall.uploadStaged(s.raw, dst, width, limits));
        }
    }

    @Override
    protected float[] downloadHook(Tensor src) {
        bind();
        float[] out = new float[Math.toIntExact(src.size())];
        sync("before download");
        CudaErrors.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(out),
                mem(src).ptr.withByteOffset(src.offset() * Sizeof.FLOAT), (long) out.length * Sizeof.FLOAT),
                "cuMemcpyDtoH");
        return out;
    }

    private void sync(String when) {
        CudaErrors.check(JCudaDriver.cuStreamSynchronize(stream), "cuStreamSynchronize " + when
                + " (an earlier kernel or cuBLAS call failed; rerun with BPTT_CUDA_SYNC=1 to name it)");
    }

    @Override
    public void synchronize() {
        bind();
        sync("in synchronize");
    }

    // ---- GEMM ------------------------------------------------------------------------------

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        bind();
        CublasSgemmArgs s = CublasSgemmArgs.forGemm(transA, a, transB, b, alpha, beta, c);
        CudaErrors.checkCublas(JCublas2.cublasSgemm(cublas, s.transa(), s.transb(), s.m(), s.n(), s.k(),
                Pointer.to(new float[] {s.alpha()}), at(s.a(), s.aOffset()), s.lda(), at(s.b(), s.bOffset()), s.ldb(),
                Pointer.to(new float[] {s.beta()}), at(s.c(), s.cOffset()), s.ldc()), s.toString());
        syncIfAsked(s.toString());
    }

    // ---- kernels ---------------------------------------------------------------------------

    private CUfunction function(String kernel) {
        CUfunction f = functions.get(kernel);
        if (f == null) {
            throw new IllegalStateException("kernel " + kernel + " is not in kernels/ (KernelSource.kernelNames())");
        }
        return f;
    }

    private CUmodule loadModule(NvrtcCompiler.Image image) {
        CUmodule m = new CUmodule();
        JITOptions jit = new JITOptions();
        jit.putInt(CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, JIT_LOG_BYTES);
        jit.putBytes(CU_JIT_ERROR_LOG_BUFFER, new byte[JIT_LOG_BYTES]);
        int result = JCudaDriver.cuModuleLoadDataJIT(m, Pointer.to(image.bytes()), jit);
        if (result != CUresult.CUDA_SUCCESS) {
            String log = jit.getString(CU_JIT_ERROR_LOG_BUFFER);
            CudaErrors.check(result, "loading the NVRTC " + NvrtcCompiler.version() + " " + image.describe()
                    + " of kernels/ on " + info.name() + (log == null || log.isBlank() ? "" : " (" + log.strip() + ")"));
        }
        return m;
    }

    /** With BPTT_CUDA_SYNC=1: waits for what was just queued, so a fault is reported by the call that caused it. */
    private void syncIfAsked(String what) {
        if (syncEachCall) {
            CudaErrors.check(JCudaDriver.cuStreamSynchronize(stream), what + " (execution)");
        }
    }

    /** Queues one kernel on the stream; every buffer becomes (device pointer, int offset), as the ABI says. */
    private void launch(KernelCall call) {
        LaunchConfig cfg = call.launch();
        if (cfg.isEmpty()) {
            return;
        }
        bind();
        CUfunction f = function(call.kernel());
        List<Pointer> params = new ArrayList<>();
        for (KernelCall.Arg arg : call.args()) {
            switch (arg.kind()) {
                case BUFFER -> {
                    params.add(Pointer.to(((CudaMemory) arg.memory()).ptr));
                    params.add(Pointer.to(new int[] {arg.intValue()}));
                }
                case INT -> params.add(Pointer.to(new int[] {arg.intValue()}));
                case FLOAT -> params.add(Pointer.to(new float[] {arg.floatValue()}));
            }
        }
        CudaErrors.check(JCudaDriver.cuLaunchKernel(f, cfg.grid(), 1, 1, cfg.block(), 1, 1, cfg.sharedBytes(), stream,
                Pointer.to(params.toArray(new Pointer[0])), null), "kernel " + cfg);
        syncIfAsked("kernel " + cfg);
    }

    @Override
    protected void fillHook(Tensor x, float value) { launch(KernelCall.fill(x, value, limits)); }

    @Override
    protected void copyHook(Tensor src, Tensor dst) { launch(KernelCall.copy(src, dst, limits)); }

    @Override
    protected void axpyHook(float alpha, Tensor x, Tensor y) { launch(KernelCall.axpy(alpha, x, y, limits)); }

    @Override
    protected void scaleHook(float alpha, Tensor x) { launch(KernelCall.scale(alpha, x, limits)); }

    @Override
    protected void biasTanhHook(Tensor x, Tensor bias) { launch(KernelCall.biasTanh(x, bias, limits)); }

    @Override
    protected void tanhBackwardHook(Tensor a, Tensor da) { launch(KernelCall.tanhBackward(a, da, limits)); }

    @Override
    protected void sumRowsHook(Tensor x, float beta, Tensor out) { launch(KernelCall.sumRows(x, beta, out, limits)); }

    @Override
    protected void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) {
        launch(KernelCall.tanhCellBackward(a, dnext, da, limits));
    }

    @Override
    protected void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        launch(KernelCall.lstmCellForward(gates, biasIh, biasHh, cPrev, c, h, limits));
    }

    @Override
    protected void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        launch(KernelCall.lstmCellBackward(gates, cPrev, c, dh, dnext, dc, limits));
    }

    @Override
    protected void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                      Tensor h) {
        launch(KernelCall.gruCellForward(gates, hh, biasIh, biasHh, hPrev, hn, h, limits));
    }

    @Override
    protected void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                       Tensor dgatesHh) {
        launch(KernelCall.gruCellBackward(gates, hn, hPrev, dh, dnext, dgatesHh, limits));
    }

    @Override
    protected void softmaxCrossEntropyHook(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                           Tensor dlogits, Tensor losses) {
        launch(KernelCall.softmaxCrossEntropy(logits, bias, targets, gradScale, dlogits, losses, limits));
    }

    @Override
    protected void meanSquaredErrorHook(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                        Tensor dpredictions, Tensor losses) {
        launch(KernelCall.meanSquaredError(predictions, bias, targets, mask, gradScale, dpredictions, losses, limits));
    }

    @Override
    protected void gatherColumnsHook(Tensor ids, Tensor table, Tensor out) {
        launch(KernelCall.gatherColumns(ids, table, out, limits));
    }

    @Override
    protected void scatterAddColumnsHook(Tensor ids, Tensor grad, Tensor tableGrad) {
        launch(KernelCall.scatterAddColumns(ids, grad, tableGrad, limits));
    }

    @Override
    protected double sumOfSquaresHook(Tensor x) {
        launch(KernelCall.sumOfSquares(x, scratch, limits));
        launch(KernelCall.sumOfSquaresFinal(x.size(), scratch, limits));
        float[] total = new float[1];
        sync("before reading the sum of squares");
        CudaErrors.check(JCudaDriver.cuMemcpyDtoH(Pointer.to(total),
                mem(scratch).ptr.withByteOffset((long) LaunchConfig.SUM_PARTS * Sizeof.FLOAT), Sizeof.FLOAT),
                "cuMemcpyDtoH");
        return total[0];
    }

    @Override
    protected void sgdUpdateHook(Tensor param, Tensor grad, float lr, float gradScale) {
        launch(KernelCall.sgdUpdate(param, grad, lr, gradScale, limits));
    }

    @Override
    protected void adamUpdateHook(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                  float eps, int step, float gradScale) {
        launch(KernelCall.adamUpdate(param, grad, m, v, lr, beta1, beta2, eps, step, gradScale, limits));
    }

    @Override
    protected void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        launch(KernelCall.adagradUpdate(param, grad, cache, lr, eps, gradScale, limits));
    }

    // ---- lifetime --------------------------------------------------------------------------

    @Override
    public void close() {
        if (closed) {
            return;
        }
        bind();
        try {
            sync("at close");
        } finally {
            release();
            closed = true;
        }
    }

    /** Frees everything this backend created, best effort (used by close and by a failed open); the context stays. */
    private void release() {
        JCudaDriver.cuCtxSetCurrent(context);
        for (CudaMemory m : live.keySet()) {
            JCudaDriver.cuMemFree(m.ptr);
        }
        live.clear();
        for (CudaStaging s : pinned) {
            JCudaDriver.cuMemFreeHost(s.host);
        }
        pinned.clear();
        if (scratch != null) {
            JCudaDriver.cuMemFree(mem(scratch).ptr);
            scratch = null;
        }
        if (module != null) {
            JCudaDriver.cuModuleUnload(module);
            module = null;
        }
        if (cublasCreated) {
            JCublas2.cublasDestroy(cublas);
            cublasCreated = false;
        }
        if (streamCreated) {
            JCudaDriver.cuStreamDestroy(stream);
            streamCreated = false;
        }
    }
}
