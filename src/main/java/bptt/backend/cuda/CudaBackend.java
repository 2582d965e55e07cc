// CudaBackend: the Backend on an NVIDIA GPU: device memory, cuBLAS GEMM, NVRTC-compiled kernels/ on one stream.
package bptt.backend.cuda;

import bptt.backend.KernelBackend;
import bptt.backend.BackendUnavailableException;
import bptt.backend.DeviceOutOfMemoryException;
import bptt.backend.DeviceSteps;
import bptt.backend.KernelCalls;
import bptt.backend.KernelSource;
import bptt.backend.LaunchCounters;
import bptt.backend.StagingBuffer;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JITOptions;
import jcuda.driver.JCudaDriver;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasMath;
import jcuda.jcublas.cublasStatus;
import jcuda.runtime.cudaStream_t;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
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
 * {@code kernels/} with the arguments and thread counts of {@link KernelCalls} (compiled by
 * {@link NvrtcCompiler} and loaded when the backend opens, so a toolchain or driver problem makes
 * the backend unavailable, never a run fail midway; blocks as {@link LaunchConfig} says). Nothing
 * returns to the host inside a time step; only upload, download and sumOfSquares wait for the
 * stream. With BPTT_CUDA_SYNC=1 the host waits after everything it queues (every launch, cuBLAS
 * call and memset), so an asynchronous fault names its kernel or GEMM.
 *
 * <p>A launch costs the host no allocation and no string: each kernel has one {@code Slot}
 * whose argument arrays and JCuda pointers are built once, every allocation keeps the kernel
 * parameter that points at it, and GEMM operands are cached device pointers. As a
 * {@link DeviceSteps} the backend records a training step into a CUDA graph by stream capture
 * and replays it with one cuGraphLaunch; as {@link LaunchCounters} it counts what it launches
 * and how long the host waits.
 *
 * <p>The primary context of a device is retained once per JVM and never released: closing a
 * backend frees its memory, module, stream and cuBLAS handle, and a backend opened later in
 * the same JVM finds the same context, so no cuBLAS state ever outlives the context it was
 * made in (releasing the last retain would destroy the context under cuBLAS's feet).
 */
public final class CudaBackend extends KernelBackend implements DeviceSteps, LaunchCounters {
    private static final int JIT_LOG_BYTES = 16 * 1024;
    private static final Map<Integer, CUcontext> PRIMARY_CONTEXTS = new HashMap<>();
    /** Kernel parameters of the largest kernel, at most (each buffer is two: pointer and offset). */
    private static final int MAX_PARAMS = 32;
    /** Floats of scratch memory allocated when the backend opens (the sum of squares' tree fits). */
    private static final long INITIAL_SCRATCH = 1 << 16;
    /** cuBLAS's workspace: 4 MiB, 32 MiB on Hopper (sm_90), as cuBLAS documents for graph capture. */
    private static final long CUBLAS_WORKSPACE = 4L << 20;
    private static final long CUBLAS_WORKSPACE_SM90 = 32L << 20;
    /** Graphs kept (one per key, least recently used dropped). */
    private static final int MAX_GRAPHS = 8;

    private final int ordinal;
    private final CudaProbe.Device info;
    private final boolean syncEachCall = "1".equals(System.getenv("BPTT_CUDA_SYNC"));
    private final CUdevice device = new CUdevice();
    private final CUcontext context;
    private final CUstream stream = new CUstream();
    private final cublasHandle cublas = new cublasHandle();
    private final LaunchConfig.Limits limits;
    private final Map<CudaMemory, Boolean> live = new IdentityHashMap<>();
    private final Map<String, Slot> slots = new HashMap<>();
    private final Calls calls = new Calls();
    private final Set<CudaStaging> pinned = Collections.newSetFromMap(new IdentityHashMap<>());
    private final String description;
    private final ByteBuffer gemmScalars = ByteBuffer.allocateDirect(8).order(ByteOrder.nativeOrder());
    private final Pointer alphaPointer = Pointer.to(gemmScalars.slice(0, 4).order(ByteOrder.nativeOrder()));
    private final Pointer betaPointer = Pointer.to(gemmScalars.slice(4, 4).order(ByteOrder.nativeOrder()));
    private final List<CudaMemory> internal = new ArrayList<>();   // scratch, cuBLAS workspace, results: freed at close
    private final Map<Object, Graph> graphCache = new LinkedHashMap<>(16, 0.75f, true);
    private final Set<Object> warmedUp = new HashSet<>();
    private CUmodule module;
    private CudaMemory scratch;    // the ops' temporary memory (KernelCalls.scratch); a larger one replaces it
    private Tensor total;          // (1, 1): Backend.sumOfSquares's result
    private Tensor apiScalars;     // (1, STEP_SCALARS): the scalars of the Backend contract's optimizer ops
    private boolean graphsOn;
    private boolean capturing;
    private long deviceLaunches;
    private long hostLaunches;
    private long waitNanos;
    private boolean closed;
    private boolean streamCreated;
    private boolean cublasCreated;

    /** A device pointer that tells its address (JCuda keeps it in a field its subclasses may read). */
    private static final class DevicePointer extends CUdeviceptr {
        long address() { return getNativePointer(); }
    }

    /** One allocation on this backend's device. */
    private static final class CudaMemory implements DeviceMemory {
        final DevicePointer ptr = new DevicePointer();
        final long floats;
        final CudaBackend owner;
        private long[] offsets;            // open addressing: the element offsets cuBLAS was handed ...
        private CUdeviceptr[] pointers;    // ... and their device pointers, made once each
        private int cached;

        CudaMemory(CudaBackend owner, long floats) {
            this.owner = owner;
            this.floats = floats;
        }

        @Override
        public long capacity() { return floats; }

        @Override
        public Object owner() { return owner; }

        /** The device address of element {@code offset}, made on first use and kept (no allocation after). */
        CUdeviceptr at(long offset) {
            if (offset == 0) {
                return ptr;
            }
            if (pointers == null || 2 * (cached + 1) > pointers.length) {
                grow();
            }
            int mask = pointers.length - 1;
            for (int i = (int) (offset * 0x9E3779B97F4A7C15L >>> 40) & mask; ; i = (i + 1) & mask) {
                if (pointers[i] == null) {
                    offsets[i] = offset;
                    pointers[i] = ptr.withByteOffset(offset * Sizeof.FLOAT);
                    cached++;
                    return pointers[i];
                }
                if (offsets[i] == offset) {
                    return pointers[i];
                }
            }
        }

        private void grow() {
            long[] oldOffsets = offsets;
            CUdeviceptr[] oldPointers = pointers;
            int size = pointers == null ? 16 : pointers.length * 2;
            offsets = new long[size];
            pointers = new CUdeviceptr[size];
            cached = 0;
            if (oldPointers != null) {
                for (int i = 0; i < oldPointers.length; i++) {
                    if (oldPointers[i] != null) {
                        int mask = size - 1;
                        int j = (int) (oldOffsets[i] * 0x9E3779B97F4A7C15L >>> 40) & mask;
                        while (pointers[j] != null) {
                            j = (j + 1) & mask;
                        }
                        offsets[j] = oldOffsets[i];
                        pointers[j] = oldPointers[i];
                        cached++;
                    }
                }
            }
        }
    }

    /** A captured training step: the executable graph and the kernels and GEMMs it holds. */
    private record Graph(CUgraphExec exec, long launches) { }

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
        this.graphsOn = !syncEachCall;
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
                slots.put(kernel, new Slot(kernel, f));
            }
            this.description = info.name() + " (sm_" + info.major() + info.minor() + ", "
                    + CudaErrors.bytes(info.totalBytes()) + "), driver CUDA " + CudaProbe.cudaVersion(driverVersion)
                    + ", NVRTC " + NvrtcCompiler.version() + " " + image.describe() + ", cuBLAS " + cublasVersion[0]
                    + (info.emulated() ? "; EMULATED on the host by bptt's test emulator: timings are not GPU timings"
                    : "");
            // A workspace of its own, so that cuBLAS allocates nothing while a step is captured into a graph.
            long workspaceBytes = info.major() >= 9 ? CUBLAS_WORKSPACE_SM90 : CUBLAS_WORKSPACE;
            CudaMemory workspace = internalAlloc(workspaceBytes / Sizeof.FLOAT);
            CudaErrors.checkCublas(JCublas2.cublasSetWorkspace(cublas, workspace.ptr, workspaceBytes),
                    "cublasSetWorkspace");
            this.scratch = internalAlloc(INITIAL_SCRATCH);
            CudaMemory small = internalAlloc(1 + KernelCalls.STEP_SCALARS);
            this.total = new Tensor(small, 0, 1, 1, 1);
            this.apiScalars = new Tensor(small, 1, 1, KernelCalls.STEP_SCALARS, KernelCalls.STEP_SCALARS);
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

    @Override
    protected KernelCalls calls() { return calls; }

    @Override
    protected Tensor total() { return total; }

    @Override
    protected Tensor apiScalars() { return apiScalars; }

    @Override
    protected void beforeLaunch() { bind(); }

    /** Makes this backend's context current on the calling thread (the driver keeps one per thread). */
    private void bind() {
        if (closed) {
            throw new IllegalStateException("cuda backend on device " + ordinal + " is closed");
        }
        int result = JCudaDriver.cuCtxSetCurrent(context);
        if (result != CUresult.CUDA_SUCCESS) {
            throw CudaErrors.failure(result, "cuCtxSetCurrent");
        }
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
            long[] totalBytes = new long[1];
            JCudaDriver.cuMemGetInfo(free, totalBytes);
            throw CudaErrors.outOfMemory(bytes, free[0], totalBytes[0], allocatedBytes());
        }
        CudaErrors.check(result, "cuMemAlloc(" + bytes + " bytes)");
        CudaErrors.check(JCudaDriver.cuMemsetD32Async(memory.ptr, 0, memory.floats, stream), "cuMemsetD32Async");
        syncIfAsked("cuMemsetD32Async");
    }

    /** Device memory of the backend's own (not a tensor of the caller's), freed at close. */
    private CudaMemory internalAlloc(long floats) {
        CudaMemory memory = new CudaMemory(this, floats);
        deviceAlloc(memory);
        internal.add(memory);
        return memory;
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

    @Override
    protected void uploadHook(float[] src, Tensor dst) {
        bind();
        long t0 = System.nanoTime();
        sync("before upload");
        int result = JCudaDriver.cuMemcpyHtoD(mem(dst).at(dst.offset()), Pointer.to(src), (long) src.length * Sizeof.FLOAT);
        waitNanos += System.nanoTime() - t0;
        CudaErrors.check(result, "cuMemcpyHtoD");
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
            calls.uploadStaged(s.raw, dst, width);
        }
    }

    @Override
    protected float[] downloadHook(Tensor src) {
        bind();
        float[] out = new float[Math.toIntExact(src.size())];
        download(src, out);
        return out;
    }

    /** Waits for the stream, then copies src's elements into out. */
    private void download(Tensor src, float[] out) {
        long t0 = System.nanoTime();
        sync("before download");
        int result = JCudaDriver.cuMemcpyDtoH(Pointer.to(out), mem(src).at(src.offset()), (long) out.length * Sizeof.FLOAT);
        waitNanos += System.nanoTime() - t0;
        CudaErrors.check(result, "cuMemcpyDtoH");
    }

    private void sync(String when) {
        int result = JCudaDriver.cuStreamSynchronize(stream);
        if (result != CUresult.CUDA_SUCCESS) {
            throw CudaErrors.failure(result, "cuStreamSynchronize " + when
                    + " (an earlier kernel or cuBLAS call failed; rerun with BPTT_CUDA_SYNC=1 to name it)");
        }
    }

    @Override
    public void synchronize() {
        bind();
        long t0 = System.nanoTime();
        sync("in synchronize");
        waitNanos += System.nanoTime() - t0;
    }

    // ---- GEMM ------------------------------------------------------------------------------

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        bind();
        CublasSgemmArgs s = CublasSgemmArgs.forGemm(transA, a, transB, b, alpha, beta, c);
        gemmScalars.putFloat(0, s.alpha());
        gemmScalars.putFloat(4, s.beta());
        int status = JCublas2.cublasSgemm(cublas, s.transa(), s.transb(), s.m(), s.n(), s.k(), alphaPointer,
                mem(s.a()).at(s.aOffset()), s.lda(), mem(s.b()).at(s.bOffset()), s.ldb(), betaPointer,
                mem(s.c()).at(s.cOffset()), s.ldc());
        deviceLaunches++;
        hostLaunches++;
        if (status != cublasStatus.CUBLAS_STATUS_SUCCESS) {
            throw CudaErrors.cublasFailure(status, s.toString());
        }
        if (syncEachCall) {
            syncIfAsked(s.toString());
        }
    }

    // ---- kernels ---------------------------------------------------------------------------

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

    /**
     * One kernel's launch, built once: every parameter has an 8-byte place in one direct buffer,
     * and cuLaunchKernel's kernelParams point at those places, so a launch writes the values (a
     * device address, an int or a float) and allocates nothing; JCuda hands the driver the
     * buffer's addresses without copying Java arrays.
     */
    private final class Slot implements KernelCalls.Args {
        private final String kernel;
        private final CUfunction function;
        private final ByteBuffer values = ByteBuffer.allocateDirect(8 * MAX_PARAMS).order(ByteOrder.nativeOrder());
        private final Pointer[] places = new Pointer[MAX_PARAMS];
        private Pointer kernelParams;      // the first `params` places, made at the first launch
        private int params = -1;
        private int count;

        Slot(String kernel, CUfunction function) {
            this.kernel = kernel;
            this.function = function;
            for (int i = 0; i < MAX_PARAMS; i++) {
                places[i] = Pointer.to(values.slice(8 * i, 8).order(ByteOrder.nativeOrder()));
            }
        }

        Slot start() {
            count = 0;
            return this;
        }

        @Override
        public Slot buf(DeviceMemory memory, long offset, long size) {
            int at = KernelCalls.offsetArg(kernel, offset, size);
            values.putLong(8 * count++, ((CudaMemory) memory).ptr.address());
            values.putInt(8 * count++, at);
            return this;
        }

        @Override
        public Slot i(long value) {
            values.putInt(8 * count++, KernelCalls.intArg(kernel, value));
            return this;
        }

        @Override
        public Slot f(float value) {
            values.putFloat(8 * count++, value);
            return this;
        }

        @Override
        public void run(long threads) {
            if (threads == 0) {
                return;
            }
            int block = LaunchConfig.blockFor(kernel, threads, LaunchConfig.DEFAULT_BLOCK, limits);
            int grid = LaunchConfig.gridFor(kernel, threads, block, limits);
            if (params < 0) {
                params = count;
                kernelParams = Pointer.to(Arrays.copyOf(places, count));
            } else if (params != count) {
                throw new IllegalStateException("kernel " + kernel + " was given " + count + " parameters, before "
                        + params);
            }
            int result = JCudaDriver.cuLaunchKernel(function, grid, 1, 1, block, 1, 1, 0, stream, kernelParams, null);
            deviceLaunches++;
            hostLaunches++;
            if (result != CUresult.CUDA_SUCCESS) {
                throw CudaErrors.failure(result, "kernel " + kernel + "<<<" + grid + ", " + block + ">>> for " + threads
                        + " threads");
            }
            if (syncEachCall) {
                syncIfAsked("kernel " + kernel + "<<<" + grid + ", " + block + ">>>");
            }
        }
    }

    /** The kernels of every op, launched through the slots; their temporary memory is the scratch allocation. */
    private final class Calls extends KernelCalls {
        @Override
        protected Args begin(String kernel) {
            return slotOf(slots, kernel).start();
        }

        @Override
        protected DeviceMemory scratch(long floats) {
            if (floats > scratch.floats) {
                // The old one stays allocated until close: a captured graph may still use it.
                scratch = internalAlloc(Math.max(floats, 2 * scratch.floats));
            }
            return scratch;
        }
    }

    // ---- training steps on the device (DeviceSteps) ---------------------------------------------

    /** A tensor of this backend, contiguous, of the size an op needs. */
    private Tensor checked(Tensor t, String what, long size) {
        if (t.memory().owner() != this || !t.isContiguous() || t.size() != size) {
            throw new IllegalArgumentException(what + " must be a contiguous tensor of " + size
                    + " floats on this cuda backend, got " + t.describe());
        }
        return t;
    }

    private void checkUpdate(Tensor param, Tensor... same) {
        for (Tensor t : same) {
            checked(t, "an optimizer tensor", param.size());
        }
    }

    @Override
    public void clipScale(Tensor grads, Tensor lossSum, float clip, Tensor scalars) {
        checked(grads, "clipScale grads", Math.max(1, grads.size()));
        checked(lossSum, "clipScale lossSum", 1);
        checked(scalars, "clipScale scalars", KernelCalls.STEP_SCALARS);
        bind();
        calls.clipScale(grads, lossSum, clip, scalars);
    }

    @Override
    public void sgdUpdate(Tensor param, Tensor grad, float lr, Tensor scalars) {
        checkUpdate(param, param, grad);
        checked(scalars, "sgdUpdate scalars", KernelCalls.STEP_SCALARS);
        bind();
        calls.sgdUpdate(param, grad, lr, scalars);
    }

    @Override
    public void adamUpdate(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                           float eps, Tensor scalars) {
        checkUpdate(param, param, grad, m, v);
        checked(scalars, "adamUpdate scalars", KernelCalls.STEP_SCALARS);
        bind();
        calls.adamUpdate(param, grad, m, v, lr, beta1, beta2, eps, scalars);
    }

    @Override
    public void adagradUpdate(Tensor param, Tensor grad, Tensor cache, float lr, float eps, Tensor scalars) {
        checkUpdate(param, param, grad, cache);
        checked(scalars, "adagradUpdate scalars", KernelCalls.STEP_SCALARS);
        bind();
        calls.adagradUpdate(param, grad, cache, lr, eps, scalars);
    }

    @Override
    public void replay(Object key, Runnable step) {
        if (!graphsOn) {
            step.run();
            return;
        }
        Graph graph = graphCache.get(key);
        if (graph == null) {
            if (warmedUp.add(key)) {
                step.run();             // the first time eagerly: scratch grows now, never while capturing
                return;
            }
            graph = capture(step);
            if (graph == null) {
                return;                 // capture failed: the step ran eagerly, graphs are off
            }
            graphCache.put(key, graph);
            if (graphCache.size() > MAX_GRAPHS) {
                Object eldest = graphCache.keySet().iterator().next();
                destroy(graphCache.remove(eldest));
                warmedUp.remove(eldest);
            }
        }
        bind();
        int result = JCudaDriver.cuGraphLaunch(graph.exec(), stream);
        hostLaunches++;
        deviceLaunches += graph.launches();
        if (result != CUresult.CUDA_SUCCESS) {
            throw CudaErrors.failure(result, "cuGraphLaunch of a training step's graph");
        }
        syncIfAsked("cuGraphLaunch");
    }

    /**
     * Records step into a graph by stream capture and instantiates it. If the driver refuses any
     * of it, graphs are turned off with a warning and the step runs eagerly (nothing ran while
     * it was being captured); then null.
     */
    private Graph capture(Runnable step) {
        bind();
        CudaErrors.check(JCudaDriver.cuStreamBeginCapture(stream, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_GLOBAL),
                "cuStreamBeginCapture");
        long deviceBefore = deviceLaunches;
        long hostBefore = hostLaunches;
        CUgraph graph = new CUgraph();
        RuntimeException failure = null;
        capturing = true;
        try {
            step.run();
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            capturing = false;
        }
        int ended = JCudaDriver.cuStreamEndCapture(stream, graph);
        long recorded = deviceLaunches - deviceBefore;
        deviceLaunches = deviceBefore;          // recorded, not run
        hostLaunches = hostBefore;
        CUgraphExec exec = new CUgraphExec();
        int instantiated = failure != null || ended != CUresult.CUDA_SUCCESS ? ended
                : JCudaDriver.cuGraphInstantiate(exec, graph, 0);
        if (ended == CUresult.CUDA_SUCCESS) {
            JCudaDriver.cuGraphDestroy(graph);
        }
        if (failure == null && instantiated == CUresult.CUDA_SUCCESS) {
            return new Graph(exec, recorded);
        }
        graphsOn = false;
        System.err.println("warning: recording a training step as a CUDA graph failed ("
                + (failure != null ? failure.getMessage() : CUresult.stringFor(instantiated)
                + CudaErrors.driverText(instantiated)) + "); running every step eagerly");
        step.run();
        return null;
    }

    private void destroy(Graph graph) {
        bind();
        JCudaDriver.cuGraphExecDestroy(graph.exec());
    }

    @Override
    public void useGraphs(boolean on) {
        if (!on) {
            closeGraphs();
        }
        graphsOn = on && !syncEachCall;
    }

    @Override
    public boolean graphs() { return graphsOn; }

    @Override
    public void closeGraphs() {
        for (Graph g : graphCache.values()) {
            destroy(g);
        }
        graphCache.clear();
        warmedUp.clear();
    }

    /** True while a step is being recorded into a graph (nothing runs then). */
    boolean capturing() { return capturing; }

    // ---- counters (LaunchCounters) ------------------------------------------------------------

    @Override
    public long deviceLaunches() { return deviceLaunches; }

    @Override
    public long hostLaunches() { return hostLaunches; }

    @Override
    public long waitNanos() { return waitNanos; }

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
        for (Graph g : graphCache.values()) {
            JCudaDriver.cuGraphExecDestroy(g.exec());
        }
        graphCache.clear();
        for (CudaMemory m : live.keySet()) {
            JCudaDriver.cuMemFree(m.ptr);
        }
        live.clear();
        for (CudaStaging s : pinned) {
            JCudaDriver.cuMemFreeHost(s.host);
        }
        pinned.clear();
        for (CudaMemory m : internal) {
            JCudaDriver.cuMemFree(m.ptr);
        }
        internal.clear();
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
