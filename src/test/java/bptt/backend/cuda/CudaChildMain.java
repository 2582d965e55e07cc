// CudaChildMain: cuda backend runs that need a JVM of their own (emulator settings, BPTT_CUDA_SYNC), started by CudaBackendTest.
package bptt.backend.cuda;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUmodule;
import jcuda.driver.JCudaDriver;

import java.util.Locale;

/**
 * {@code ops}: a few ops of every kind on the cuda backend (fill, upload, GEMM, a kernel, the
 * two-pass sum of squares and its download). {@code huge-sum}: sumOfSquares of a (1, 2^31 - 1) tensor, zero but for
 * 1000 twos at each end; prints the sum (8000). {@code raw-ptx}: hands the PTX NVRTC makes for
 * a device newer than itself straight to cuModuleLoadData on device 0 and prints the result.
 */
public final class CudaChildMain {
    private CudaChildMain() { }

    public static void main(String[] args) {
        if (args[0].equals("raw-ptx")) {
            rawPtx();
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

    private static void rawPtx() {
        CudaProbe.get();
        CUdevice device = new CUdevice();
        CUcontext context = new CUcontext();
        JCudaDriver.cuDeviceGet(device, 0);
        JCudaDriver.cuDevicePrimaryCtxRetain(context, device);
        JCudaDriver.cuCtxSetCurrent(context);
        byte[] ptx = NvrtcCompiler.image(120, Integer.MAX_VALUE).bytes();
        int result = JCudaDriver.cuModuleLoadData(new CUmodule(), ptx);
        System.out.println("cuModuleLoadData: " + jcuda.driver.CUresult.stringFor(result) + CudaErrors.driverText(result));
    }
}
