// CudaChildMain: cuda backend runs that need a JVM of their own (emulator settings, BPTT_CUDA_SYNC), started by CudaBackendTest.
package bptt.backend.cuda;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.JCudaDriver;
import jcuda.nvrtc.JNvrtc;
import jcuda.nvrtc.nvrtcProgram;
import jcuda.nvrtc.nvrtcResult;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code ops}: a few ops of every kind on the cuda backend (fill, upload, GEMM, a kernel, the
 * two-pass sum of squares and its download). {@code huge-sum}: sumOfSquares of a (1, 2^31 - 1) tensor, zero but for
 * 1000 twos at each end; prints the sum (8000). {@code raw-ptx}: hands the PTX NVRTC makes for
 * a device newer than itself straight to cuModuleLoadData on device 0 and prints the result.
 * {@code functions FILE NAME...}: compiles the CUDA program in FILE with NVRTC for sm_86, loads
 * it on device 0 and prints cuModuleGetFunction's result for each NAME.
 */
public final class CudaChildMain {
    private CudaChildMain() { }

    public static void main(String[] args) {
        if (args[0].equals("raw-ptx") || args[0].equals("functions")) {
            CUmodule module = new CUmodule();
            byte[] image;
            if (args[0].equals("raw-ptx")) {
                current();
                image = NvrtcCompiler.image(120, Integer.MAX_VALUE).bytes();
            } else {
                image = cubin(args[1]);
            }
            int loaded = JCudaDriver.cuModuleLoadData(module, image);
            System.out.println("cuModuleLoadData: " + CUresult.stringFor(loaded) + CudaErrors.driverText(loaded));
            for (int i = 2; i < args.length; i++) {
                int found = JCudaDriver.cuModuleGetFunction(new CUfunction(), module, args[i]);
                System.out.println(args[i] + ": " + CUresult.stringFor(found) + CudaErrors.driverText(found));
            }
            return;
        }
        try (Backend cuda = CudaBackend.open(-1)) {
            if (args[0].equals("ops")) {
                Tensor a = cuda.alloc(33, 17);
                Tensor b = cuda.alloc(17, 9);
                Tensor c = cuda.alloc(33, 9);
                Tensor bias = cuda.alloc(1, 9);
                cuda.fill(a, 0.5f);
                cuda.upload(new float[17 * 9], b);
                cuda.gemm(false, a, false, b, 1f, 0f, c);
                cuda.biasTanh(c, bias);
                System.out.println("sum " + cuda.sumOfSquares(c));
            } else {
                Tensor x = cuda.alloc(1, Integer.MAX_VALUE);
                cuda.fill(x.block(0, 0, 1, 1000), 2f);
                cuda.fill(x.block(0, Integer.MAX_VALUE - 1000, 1, 1000), 2f);
                System.out.println(String.format(Locale.ROOT, "sum %.1f", cuda.sumOfSquares(x)));
            }
        }
    }

    /** Device 0's primary context made current, then NVRTC's sm_86 CUBIN of the CUDA program in a file. */
    private static byte[] cubin(String file) {
        current();
        try {
            nvrtcProgram program = new nvrtcProgram();
            JNvrtc.nvrtcCreateProgram(program, Files.readString(Path.of(file)), "test.cu", 0, null, null);
            int compiled = JNvrtc.nvrtcCompileProgram(program, 1, new String[] {"-arch=sm_86"});
            if (compiled != nvrtcResult.NVRTC_SUCCESS) {
                throw new IllegalStateException("NVRTC: " + nvrtcResult.stringFor(compiled));
            }
            long[] size = new long[1];
            JNvrtc.nvrtcGetCUBINSize(program, size);
            byte[] cubin = new byte[(int) size[0]];
            JNvrtc.nvrtcGetCUBIN(program, cubin);
            JNvrtc.nvrtcDestroyProgram(program);
            return cubin;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void current() {
        CudaProbe.get();
        CUdevice device = new CUdevice();
        CUcontext context = new CUcontext();
        JCudaDriver.cuDeviceGet(device, 0);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
        JCudaDriver.cuCtxSetCurrent(context);
    }
}
