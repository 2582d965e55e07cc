// OpenClBackend: the Backend on one OpenCL device (JOCL): kernels/ built at run time, GEMM through CLBlast.
package bptt.backend.opencl;

import bptt.backend.AbstractBackend;
import bptt.backend.BackendUnavailableException;
import bptt.backend.GemmPlan;
import bptt.backend.KernelSource;
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
 * forward or backward pass sends nothing back per time step.
 */
public final class OpenClBackend extends AbstractBackend {
    /** Partial sums of the first sumOfSquares pass; fixed so the reduction order depends on n only. */
    private static final int SUM_PARTS = 1024;
    /** Work-group size used when the kernel allows it. */
    private static final int LOCAL_SIZE = 64;

    private final OpenClDevices.Device device;
    private final cl_context context;
    private final cl_command_queue queue;
    private final cl_program program;
    private final Map<String, cl_kernel> kernels = new HashMap<>();
    private final Map<String, Integer> localSizes = new HashMap<>();
    private final Set<ClMemory> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private final cl_mem scratch; // (1, SUM_PARTS + 1): partial sums, then the total
    private boolean closed;

    /** The device memory of one allocation. */
    private static final class ClMemory implements DeviceMemory {
        final cl_mem mem;
        final long floats;
        final OpenClBackend owner;

        ClMemory(OpenClBackend owner, cl_mem mem, long floats) {
            this.owner = owner;
            this.mem = mem;
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
                kernels.put(name, k);
                long[] max = new long[1];
                CL.clGetKernelWorkGroupInfo(k, device.id(), CL.CL_KERNEL_WORK_GROUP_SIZE, Sizeof.size_t,
                        Pointer.to(max), null);
                localSizes.put(name, (int) Math.max(1, Math.min(LOCAL_SIZE, max[0])));
            }
            this.scratch = CL.clCreateBuffer(context, CL.CL_MEM_READ_WRITE, (long) (SUM_PARTS + 1) * Sizeof.cl_float,
                    null, null);
        } catch (RuntimeException e) {
            kernels.values().forEach(CL::clReleaseKernel);
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
        cl_mem m = CL.clCreateBuffer(context, CL.CL_MEM_READ_WRITE, bytes, null, null);
        ClMemory memory = new ClMemory(this, m, floats);
        live.add(memory);
        launch("fill", (int) floats, m, 0, (int) floats, 0f);
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
        CL.clEnqueueWriteBuffer(queue, mem(dst), true, dst.offset() * Sizeof.cl_float,
                (long) src.length * Sizeof.cl_float, Pointer.to(src), 0, null, null);
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
            launch("upload_staged", n(dst), s.raw.mem, 0, mem(dst), off(dst), n(dst), width);
        }
    }

    @Override
    protected float[] downloadHook(Tensor src) {
        float[] out = new float[n(src)];
        if (out.length > 0) {
            CL.clEnqueueReadBuffer(queue, mem(src), true, src.offset() * Sizeof.cl_float,
                    (long) out.length * Sizeof.cl_float, Pointer.to(out), 0, null, null);
        }
        return out;
    }

    @Override
    public void synchronize() { CL.clFinish(queue); }

    // ---- GEMM ------------------------------------------------------------------------------

    @Override
    protected void gemmHook(boolean transA, Tensor a, boolean transB, Tensor b, float alpha, float beta, Tensor c) {
        GemmPlan.Call call = GemmPlan.plan(transA, a, transB, b, alpha, beta, c);
        if (call.m() == 0 || call.n() == 0) {
            return;
        }
        if (beta == 0f) {
            eachRow(c, "fill", 0f);       // beta == 0: C is not read, so NaN in C cannot leak in
        } else if (call.k() == 0) {
            eachRow(c, "scale", beta);    // an empty product: C = beta * C
        }
        if (call.k() == 0) {
            return;
        }
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

    /** Runs fill or scale with {@code value} over a view that may have ld > cols. */
    private void eachRow(Tensor t, String kernel, float value) {
        if (t.isContiguous()) {
            launch(kernel, n(t), mem(t), off(t), n(t), value);
            return;
        }
        for (int r = 0; r < t.rows(); r++) {
            Tensor row = t.rows(r, 1);
            launch(kernel, t.cols(), mem(row), off(row), t.cols(), value);
        }
    }

    // ---- kernels ---------------------------------------------------------------------------

    /** Enqueues kernel {@code name} over {@code threads} work-items; args are cl_mem, Integer or Float. */
    private void launch(String name, int threads, Object... args) {
        if (threads <= 0) {
            return;
        }
        cl_kernel k = kernels.get(name);
        for (int i = 0; i < args.length; i++) {
            Object arg = args[i];
            if (arg instanceof cl_mem m) {
                CL.clSetKernelArg(k, i, Sizeof.cl_mem, Pointer.to(m));
            } else if (arg instanceof Integer v) {
                CL.clSetKernelArg(k, i, Sizeof.cl_int, Pointer.to(new int[]{v}));
            } else if (arg instanceof Float v) {
                CL.clSetKernelArg(k, i, Sizeof.cl_float, Pointer.to(new float[]{v}));
            } else {
                throw new IllegalArgumentException("kernel argument of type " + arg.getClass());
            }
        }
        long local = localSizes.get(name);
        long global = (threads + local - 1) / local * local;
        CL.clEnqueueNDRangeKernel(queue, k, 1, null, new long[]{global}, new long[]{local}, 0, null, null);
    }

    @Override
    protected void fillHook(Tensor x, float value) {
        launch("fill", n(x), mem(x), off(x), n(x), value);
    }

    @Override
    protected void copyHook(Tensor src, Tensor dst) {
        launch("copy", n(src), mem(src), off(src), mem(dst), off(dst), n(src));
    }

    @Override
    protected void axpyHook(float alpha, Tensor x, Tensor y) {
        launch("axpy", n(x), mem(x), off(x), mem(y), off(y), n(x), alpha);
    }

    @Override
    protected void scaleHook(float alpha, Tensor x) {
        launch("scale", n(x), mem(x), off(x), n(x), alpha);
    }

    @Override
    protected void biasTanhHook(Tensor x, Tensor bias) {
        launch("bias_tanh", n(x), mem(x), off(x), mem(bias), off(bias), x.rows(), x.cols());
    }

    @Override
    protected void tanhBackwardHook(Tensor a, Tensor da) {
        launch("tanh_backward", n(a), mem(a), off(a), mem(da), off(da), n(a));
    }

    @Override
    protected void tanhCellBackwardHook(Tensor a, Tensor dnext, Tensor da) {
        launch("tanh_cell_backward", n(a), mem(a), off(a), mem(dnext), off(dnext), mem(da), off(da), n(a));
    }

    @Override
    protected void lstmCellForwardHook(Tensor gates, Tensor biasIh, Tensor biasHh, Tensor cPrev, Tensor c, Tensor h) {
        launch("lstm_cell_forward", n(h), mem(gates), off(gates), mem(biasIh), off(biasIh), mem(biasHh), off(biasHh),
                mem(cPrev), off(cPrev), mem(c), off(c), mem(h), off(h), h.rows(), h.cols());
    }

    @Override
    protected void lstmCellBackwardHook(Tensor gates, Tensor cPrev, Tensor c, Tensor dh, Tensor dnext, Tensor dc) {
        launch("lstm_cell_backward", n(c), mem(gates), off(gates), mem(cPrev), off(cPrev), mem(c), off(c),
                mem(dh), off(dh), mem(dnext), off(dnext), mem(dc), off(dc), c.rows(), c.cols());
    }

    @Override
    protected void gruCellForwardHook(Tensor gates, Tensor hh, Tensor biasIh, Tensor biasHh, Tensor hPrev, Tensor hn,
                                      Tensor h) {
        launch("gru_cell_forward", n(h), mem(gates), off(gates), mem(hh), off(hh), mem(biasIh), off(biasIh),
                mem(biasHh), off(biasHh), mem(hPrev), off(hPrev), mem(hn), off(hn), mem(h), off(h), h.rows(), h.cols());
    }

    @Override
    protected void gruCellBackwardHook(Tensor gates, Tensor hn, Tensor hPrev, Tensor dh, Tensor dnext,
                                       Tensor dgatesHh) {
        launch("gru_cell_backward", n(hn), mem(gates), off(gates), mem(hn), off(hn), mem(hPrev), off(hPrev),
                mem(dh), off(dh), mem(dnext), off(dnext), mem(dgatesHh), off(dgatesHh), hn.rows(), hn.cols());
    }

    @Override
    protected void sumRowsHook(Tensor x, float beta, Tensor out) {
        launch("sum_rows", x.cols(), mem(x), off(x), mem(out), off(out), x.rows(), x.cols(), beta);
    }

    @Override
    protected void softmaxCrossEntropyHook(Tensor logits, Tensor bias, Tensor targets, float gradScale,
                                           Tensor dlogits, Tensor losses) {
        launch("softmax_cross_entropy", logits.rows(), mem(logits), off(logits), mem(bias), off(bias),
                mem(targets), off(targets), mem(dlogits), off(dlogits), mem(losses), off(losses),
                logits.rows(), logits.cols(), gradScale);
    }

    @Override
    protected void meanSquaredErrorHook(Tensor predictions, Tensor bias, Tensor targets, Tensor mask, float gradScale,
                                        Tensor dpredictions, Tensor losses) {
        launch("mean_squared_error", predictions.rows(), mem(predictions), off(predictions), mem(bias), off(bias),
                mem(targets), off(targets), mem(mask), off(mask), mem(dpredictions), off(dpredictions), mem(losses),
                off(losses), predictions.rows(), predictions.cols(), gradScale);
    }

    @Override
    protected void gatherColumnsHook(Tensor ids, Tensor table, Tensor out) {
        launch("gather_columns", n(out), mem(ids), off(ids), mem(table), off(table), mem(out), off(out),
                out.rows(), out.cols(), table.cols());
    }

    @Override
    protected void scatterAddColumnsHook(Tensor ids, Tensor grad, Tensor tableGrad) {
        launch("scatter_add_columns", grad.cols(), mem(ids), off(ids), mem(grad), off(grad), mem(tableGrad),
                off(tableGrad), grad.rows(), grad.cols(), tableGrad.cols());
    }

    @Override
    protected double sumOfSquaresHook(Tensor x) {
        int n = n(x);
        if (n == 0) {
            return 0;
        }
        int parts = Math.min(n, SUM_PARTS);
        launch("sum_of_squares", parts, mem(x), off(x), scratch, 0, n, parts);
        launch("sum_of_squares_final", 1, scratch, 0, scratch, SUM_PARTS, parts);
        float[] total = new float[1];
        CL.clEnqueueReadBuffer(queue, scratch, true, (long) SUM_PARTS * Sizeof.cl_float, Sizeof.cl_float,
                Pointer.to(total), 0, null, null);
        return total[0];
    }

    @Override
    protected void sgdUpdateHook(Tensor param, Tensor grad, float lr, float gradScale) {
        launch("sgd_update", n(param), mem(param), off(param), mem(grad), off(grad), n(param), lr, gradScale);
    }

    @Override
    protected void adamUpdateHook(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2,
                                  float eps, int step, float gradScale) {
        float bias1 = (float) (1 - Math.pow(beta1, step));
        float bias2 = (float) (1 - Math.pow(beta2, step));
        launch("adam_update", n(param), mem(param), off(param), mem(grad), off(grad), mem(m), off(m), mem(v), off(v),
                n(param), lr, beta1, beta2, eps, bias1, bias2, gradScale);
    }

    @Override
    protected void adagradUpdateHook(Tensor param, Tensor grad, Tensor cache, float lr, float eps, float gradScale) {
        launch("adagrad_update", n(param), mem(param), off(param), mem(grad), off(grad), mem(cache), off(cache),
                n(param), lr, eps, gradScale);
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
        CL.clReleaseMemObject(scratch);
        kernels.values().forEach(CL::clReleaseKernel);
        CL.clReleaseProgram(program);
        CL.clReleaseCommandQueue(queue);
        CL.clReleaseContext(context);
    }
}
