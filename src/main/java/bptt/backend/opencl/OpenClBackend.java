// OpenClBackend: the Backend on one OpenCL device (JOCL): kernels/ built at run time, GEMM through CLBlast.
package bptt.backend.opencl;

import bptt.backend.KernelBackend;
import bptt.backend.BackendUnavailableException;
import bptt.backend.GemmPlan;
import bptt.backend.KernelCalls;
import bptt.backend.KernelSource;
import bptt.backend.LaunchCounters;
import bptt.backend.StagingBuffer;
import bptt.tensor.DeviceMemory;
import bptt.tensor.Tensor;
import org.jocl.CL;
import org.jocl.CLException;
import org.jocl.Pointer;
import org.jocl.Sizeof;
import org.jocl.blast.CLBlast;
import org.jocl.blast.CLBlastLayout;
import org.jocl.blast.CLBlastStatusCode;
import org.jocl.blast.CLBlastTranspose;
import org.jocl.cl_command_queue;
import org.jocl.cl_context;
import org.jocl.cl_device_id;
import org.jocl.cl_kernel;
import org.jocl.cl_mem;
import org.jocl.cl_program;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Every tensor is a cl_mem on the device plus an element offset passed to the kernels (and to
 * CLBlast) as an argument. Kernels and GEMMs are enqueued on one in-order queue and never wait:
 * the host only blocks in upload, download, {@link #sumOfSquares} and {@link #synchronize}, so a
 * forward or backward pass sends nothing back per time step. The kernels' arguments and thread
 * counts are {@link KernelCalls}'s, the same as the cuda backend's; each kernel has one
 * {@code Slot} whose argument arrays are built once, so a launch allocates nothing. A time step
 * is the recurrent GEMM and one fused kernel each way: CLBlast (1.5) does not read C when beta is
 * 0, so a beta = 0 GEMM needs no fill first.
 */
public final class OpenClBackend extends KernelBackend implements LaunchCounters {
    /** Work-group size used when the kernel allows it. */
    private static final int LOCAL_SIZE = 64;
    /** Kernel arguments of the largest kernel, at most. */
    private static final int MAX_ARGS = 32;
    /** Floats of scratch memory allocated when the backend opens. */
    private static final long INITIAL_SCRATCH = 1 << 16;

    private final OpenClDevices.Device device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final cl_program program;
    private final Map<String, Slot> slots = new HashMap<>();
    private final Set<ClMemory> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final Calls calls = new Calls();
    private ClMemory scratch;      // the ops' temporary memory (KernelCalls.scratch); a larger one replaces it
    private final ClMemory small;  // (1, 1 + STEP_SCALARS): sumOfSquares's total, then the optimizer ops' scalars
    private final Tensor total;
    private final Tensor apiScalars;
    private long launches;
    private long waitNanos;
    private boolean closed;

    /** The device memory of one allocation. */
    private static final class ClMemory implements DeviceMemory {
        final cl_mem mem;
        /** What a kernel argument holding this buffer points at. */
        final Pointer arg;
        final long floats;
        final OpenClBackend owner;

        ClMemory(OpenClBackend owner, cl_mem mem, long floats) {
            this.owner = owner;
            this.mem = mem;
            this.arg = Pointer.to(mem);
            this.floats = floats;
        }

        @Override
        public long capacity() { return floats; }

        @Override
        public Object owner() { return owner; }
    }

    /** Opens device {@code index} (see {@link OpenClDevices} for the numbering), or the default for -1. */
    public static OpenClBackend open(int index) {
        return open(index, KernelSource.source(KernelSource.Api.OPENCL));
    }

    /** Opens a device with the given OpenCL source in place of kernels/ (used to test build errors). */
    static OpenClBackend open(int index, String source) {
        var availability = OpenClDevices.probe();
        if (!availability.available()) {
            throw new BackendUnavailableException("opencl", availability.reason());
        }
        List<OpenClDevices.Device> devices = OpenClDevices.list();
        if (index < -1) {
            throw new IllegalArgumentException("device index must be 0 or more, got " + index);
        }
        int chosen = index == -1 ? OpenClDevices.defaultIndex(devices) : index;
        if (chosen >= devices.size()) {
            throw new IllegalArgumentException("OpenCL device " + index + " does not exist; there are " + devices.size()
                    + " (0.." + (devices.size() - 1) + "), see 'bptt devices'");
        }
        try {
            CLBlast.setExceptionsEnabled(false);
        } catch (LinkageError e) {
            throw new BackendUnavailableException("opencl", "the CLBlast native library bundled with jocl-blast could not"
                    + " be loaded (" + e.getMessage() + ")");
        }
        return new OpenClBackend(devices.get(chosen), source);
    }

    /** clCreateCommandQueue is deprecated since OpenCL 2.0 but is the only call OpenCL 1.2 drivers have. */
    @SuppressWarnings("deprecation")
    private OpenClBackend(OpenClDevices.Device device, String source) {
        this.device = device;
        CL.setExceptionsEnabled(true);
        cl_device_id[] ids = {device.id()};
        this.context = CL.clCreateContext(null, 1, ids, null, null, null);
        cl_command_queue q;
        cl_program p = null;
        try {
            q = CL.clCreateCommandQueue(context, device.id(), 0, null);
        } catch (CLException e) {
            CL.clReleaseContext(context);
            throw e;
        }
        this.queue = q;
        try {
            p = build(source);
            for (String name : KernelSource.kernelNames()) {
                cl_kernel k = CL.clCreateKernel(p, name, null);
                long[] max = new long[1];
                CL.clGetKernelWorkGroupInfo(k, device.id(), CL.CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t,
                        Pointer.to(max), null);
                slots.put(name, new Slot(name, k, (int) Math.max(1, Math.min(LOCAL_SIZE, max[0]))));
            }
            this.scratch = buffer(INITIAL_SCRATCH);
            this.small = buffer(1 + KernelCalls.STEP_SCALARS);
            this.total = new Tensor(small, 0, 1, 1, 1);
            this.apiScalars = new Tensor(small, 1, 1, KernelCalls.STEP_SCALARS, KernelCalls.STEP_SCALARS);
        } catch (RuntimeException e) {
            slots.values().forEach(slot -> CL.clReleaseKernel(slot.kernel));
            if (scratch != null) {
                CL.clReleaseMemObject(scratch.mem);
            }
            if (p != null) {
                CL.clReleaseProgram(p);
            }
            CL.clReleaseCommandQueue(queue);
            CL.clReleaseContext(context);
            throw e;
        }
        this.program = p;
    }

    /** Builds the program; a compiler error makes the backend unavailable, with the build log in the message. */
    private cl_program build(String source) {
        cl_program p = CL.clCreateProgramWithSource(context, 1, new String[]{source}, null, null);
        try {
            CL.clBuildProgram(p, 1, new cl_device_id[]{device.id()}, "", null, null);
        } catch (CLException e) {
            String log = buildLog(p);
            CL.clReleaseProgram(p);
            throw new BackendUnavailableException("opencl", "the kernels (kernels/" + KernelSource.BODIES
                    + ") failed to build on " + device.name() + " [" + device.platformName() + "]: "
                    + CL.stringFor_errorCode(e.getStatus()) + "; report this with the build log below, or pick"
                    + " another device with --device (see 'bptt devices')\n--- build log ---\n" + log.strip() + "\n---");
        }
        return p;
    }

    private String buildLog(cl_program p) {
        try {
            long[] size = new long[1];
            CL.clGetProgramBuildInfo(p, device.id(), CL.CL_PROGRAM_BUILD_LOG, 0, null, size);
            byte[] buffer = new byte[(int) size[0]];
            CL.clGetProgramBuildInfo(p, device.id(), CL.CL_PROGRAM_BUILD_LOG, buffer.length, Pointer.to(buffer), null);
            return OpenClDevices.cString(buffer);
        } catch (CLException e) {
            return "(no build log: " + e.getMessage() + ")";
        }
    }

    @Override
    public String name() { return "opencl"; }

    @Override
    public String deviceDescription() { return "OpenCL device " + device.describe(); }

    /** The device this backend runs on. */
    public OpenClDevices.Device device() { return device; }

    /** The device's largest allocation, and the int offsets the kernels take. */
    @Override
    public long maxTensorFloats() { return Math.min(Integer.MAX_VALUE, device.maxAllocBytes() / Float.BYTES); }

    /** The device's global memory less what bptt holds on it (other programs' use is not visible in OpenCL 1.2). */
    @Override
    public long availableBytes() { return Math.max(0, device.globalMemBytes() - allocatedBytes()); }

    // ---- memory ----------------------------------------------------------------------------

    private static cl_mem mem(Tensor t) { return ((ClMemory) t.memory()).mem; }

    private static int off(Tensor t) { return (int) t.offset(); }

    private static int n(Tensor t) { return (int) t.size(); }

    @Override
    protected DeviceMemory allocMemory(long floats) {
        if (floats > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("opencl holds at most 2^31-1 floats per tensor (int offsets), asked for "
                    + floats);
        }
        long bytes = floats * Sizeof.cl_float;
        if (bytes > device.maxAllocBytes()) {
            throw new IllegalArgumentException("a tensor of " + (bytes >> 20) + " MiB exceeds the largest allocation of "
                    + device.name() + " (" + (device.maxAllocBytes() >> 20) + " MiB); use a smaller batch or model");
        }
        ClMemory memory = buffer(floats);
        live.add(memory);
        return memory;
    }

    /** A zero-filled buffer of {@code floats} floats. */
    private ClMemory buffer(long floats) {
        cl_mem m = CL.clCreateBuffer(context, CL.CL_MEM_READ_WRITE, floats * Sizeof.cl_float, null, null);
        ClMemory memory = new ClMemory(this, m, floats);
        calls.fill(new Tensor(memory, 0, 1, (int) floats, (int) floats), 0f);
        return memory;
    }

    @Override
    protected void freeMemory(DeviceMemory memory) {
        ClMemory m = (ClMemory) memory;
        if (live.remove(m)) {
            CL.clReleaseMemObject(m.mem);
        }
    }

    @Override
    protected void uploadHook(float[] src, Tensor dst) {
        if (src.length == 0) {
            return;
        }
        long t0 = System.nanoTime();
        CL.clEnqueueWriteBuffer(queue, mem(dst), true, dst.offset() * Sizeof.cl_float,
                (long) src.length * Sizeof.cl_float, Pointer.to(src), 0, null, null);
        waitNanos += System.nanoTime() - t0;
    }

    /**
     * Host staging in a direct buffer, so that writes from it can be non-blocking and ordered on
     * the queue like kernels; ids get a device scratch of maxUpload values of their width, which
     * the upload_staged kernel widens into the tensor.
     */
    private static final class ClStaging extends StagingBuffer {
        final ClMemory raw;   // integers: the packed ids on the device before widening; null for floats

        ClStaging(OpenClBackend owner, long length, Encoding encoding, int maxUpload, ClMemory raw) {
            super(owner, ByteBuffer.allocateDirect(Math.toIntExact(length * encoding.bytes)), length, encoding, maxUpload);
            this.raw = raw;
        }

        /** The host address of value i. */
        Pointer at(long i) { return Pointer.to(bytes()).withByteOffset(i * encoding().bytes); }
    }

    @Override
    public StagingBuffer.Layout stagingLayout() { return new StagingBuffer.Layout(StagingBuffer.Place.NATIVE, true); }

    @Override
    protected StagingBuffer allocStagingHook(long length, StagingBuffer.Encoding encoding, int maxUpload) {
        ClMemory raw = encoding.isInteger() ? (ClMemory) allocCounted(((long) maxUpload * encoding.bytes + 3) / 4) : null;
        return new ClStaging(this, length, encoding, maxUpload, raw);
    }

    @Override
    protected void freeStagingHook(StagingBuffer buffer) {
        CL.clFinish(queue);   // no queued write may still read it
        ClStaging s = (ClStaging) buffer;
        if (s.raw != null) {
            freeCounted(s.raw);
        }
    }

    @Override
    protected void uploadStagedHook(StagingBuffer src, long first, Tensor dst) {
        ClStaging s = (ClStaging) src;
        int width = s.encoding().bytes;
        long bytes = dst.size() * width;
        if (bytes == 0) {
            return;
        }
        if (s.raw == null) {
            CL.clEnqueueWriteBuffer(queue, mem(dst), false, dst.offset() * Sizeof.cl_float, bytes, s.at(first), 0, null,
                    null);
        } else {
            CL.clEnqueueWriteBuffer(queue, s.raw.mem, false, 0, bytes, s.at(first), 0, null, null);
            calls.uploadStaged(s.raw, dst, width);
        }
    }

    @Override
    protected float[] downloadHook(Tensor src) {
        float[] out = new float[n(src)];
        if (out.length > 0) {
            long t0 = System.nanoTime();
            CL.clEnqueueReadBuffer(queue, mem(src), true, src.offset() * Sizeof.cl_float,
                    (long) out.length * Sizeof.cl_float, Pointer.to(out), 0, null, null);
            waitNanos += System.nanoTime() - t0;
        }
        return out;
    }

    @Override
    public void synchronize() {
        long t0 = System.nanoTime();
        CL.clFinish(queue);
        waitNanos += System.nanoTime() - t0;
    }

    @Override
    public long deviceLaunches() { return launches; }

    @Override
    public long hostLaunches() { return launches; }

    @Override
    public long waitNanos() { return waitNanos; }

    // ---- GEMM ------------------------------------------------------------------------------

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        GemmPlan.Call call = GemmPlan.plan(transA, a, transB, b, alpha, beta, c);
        if (call.m() == 0 || call.n() == 0) {
            return;
        }
        if (call.k() == 0) {
            eachRow(c, beta);             // an empty product: C = beta * C (0 when beta is 0, even over NaN)
            return;
        }
        launches++;
        int status = CLBlast.CLBlastSgemm(CLBlastLayout.CLBlastLayoutColMajor,
                call.transa() ? CLBlastTranspose.CLBlastTransposeYes : CLBlastTranspose.CLBlastTransposeNo,
                call.transb() ? CLBlastTranspose.CLBlastTransposeYes : CLBlastTranspose.CLBlastTransposeNo,
                call.m(), call.n(), call.k(), call.alpha(),
                mem(call.a()), call.a().offset(), call.lda(),
                mem(call.b()), call.b().offset(), call.ldb(),
                call.beta(), mem(call.c()), call.c().offset(), call.ldc(), queue, null);
        if (status != CLBlastStatusCode.CLBlastSuccess) {
            throw new IllegalStateException("CLBlast sgemm failed with " + CLBlastStatusCode.stringFor(status)
                    + " on " + device.name() + " for " + call);
        }
    }

    /** C = beta·C over a view that may have ld > cols: fill with 0 when beta is 0 (NaN in C must not stay), else scale. */
    private void eachRow(Tensor t, float beta) {
        if (t.isContiguous()) {
            scaleOrZero(t, beta);
            return;
        }
        for (int r = 0; r < t.rows(); r++) {
            scaleOrZero(t.rows(r, 1), beta);
        }
    }

    private void scaleOrZero(Tensor t, float beta) {
        if (beta == 0f) {
            calls.fill(t, 0f);
        } else {
            calls.scale(beta, t);
        }
    }

    // ---- kernels ---------------------------------------------------------------------------

    /** One kernel and its argument values, built once: a launch sets them and enqueues, allocating nothing. */
    private final class Slot implements KernelCalls.Args {
        private final String name;
        private final cl_kernel kernel;
        private final long local;
        private final long[] global = new long[1];
        private final long[] localSize = new long[1];
        private final int[][] ints = new int[MAX_ARGS][1];
        private final float[][] floats = new float[MAX_ARGS][1];
        private final Pointer[] intPointers = new Pointer[MAX_ARGS];
        private final Pointer[] floatPointers = new Pointer[MAX_ARGS];
        private int index;

        Slot(String name, cl_kernel kernel, int local) {
            this.name = name;
            this.kernel = kernel;
            this.local = local;
            this.localSize[0] = local;
            for (int i = 0; i < MAX_ARGS; i++) {
                intPointers[i] = Pointer.to(ints[i]);
                floatPointers[i] = Pointer.to(floats[i]);
            }
        }

        Slot start() {
            index = 0;
            return this;
        }

        @Override
        public Slot buf(DeviceMemory memory, long offset, long size) {
            int at = KernelCalls.offsetArg(name, offset, size);
            CL.clSetKernelArg(kernel, index++, Sizeof.cl_mem, ((ClMemory) memory).arg);
            return i(at);
        }

        @Override
        public Slot i(long value) {
            ints[index][0] = KernelCalls.intArg(name, value);
            CL.clSetKernelArg(kernel, index, Sizeof.cl_int, intPointers[index]);
            index++;
            return this;
        }

        @Override
        public Slot f(float value) {
            floats[index][0] = value;
            CL.clSetKernelArg(kernel, index, Sizeof.cl_float, floatPointers[index]);
            index++;
            return this;
        }

        @Override
        public void run(long threads) {
            if (threads <= 0) {
                return;
            }
            if (threads > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("kernel " + name + " needs " + threads + " work-items, but the"
                        + " kernels index elements with 32-bit int; use a smaller --batch, --seq-len or --hidden");
            }
            global[0] = (threads + local - 1) / local * local;
            CL.clEnqueueNDRangeKernel(queue, kernel, 1, null, global, localSize, 0, null, null);
            launches++;
        }
    }

    @Override
    protected KernelCalls calls() { return calls; }

    @Override
    protected Tensor total() { return total; }

    @Override
    protected Tensor apiScalars() { return apiScalars; }

    /** The kernels of every op, launched through the slots; their temporary memory is the scratch buffer. */
    private final class Calls extends KernelCalls {
        @Override
        protected Args begin(String kernel) {
            return slotOf(slots, kernel).start();
        }

        @Override
        protected DeviceMemory scratch(long floats) {
            if (floats > scratch.floats) {
                ClMemory old = scratch;
                scratch = buffer(Math.max(floats, 2 * old.floats));
                CL.clReleaseMemObject(old.mem);    // OpenCL keeps it until the commands using it are done
            }
            return scratch;
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        CL.clFinish(queue);
        for (ClMemory m : live) {
            CL.clReleaseMemObject(m.mem);
        }
        live.clear();
        CL.clReleaseMemObject(scratch.mem);
        CL.clReleaseMemObject(small.mem);
        slots.values().forEach(slot -> CL.clReleaseKernel(slot.kernel));
        CL.clReleaseProgram(program);
        CL.clReleaseCommandQueue(queue);
        CL.clReleaseContext(context);
    }
}
