// NvrtcCompiler: compiles the kernels/ source to PTX with NVRTC for one compute capability, once per JVM.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import jcuda.nvrtc.JNvrtc;
import jcuda.nvrtc.nvrtcProgram;
import jcuda.nvrtc.nvrtcResult;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * NVRTC turns {@code prelude_cuda.h + bptt_kernels.cl.cu} (from the class path) into PTX for
 * {@code compute_XY}, the device's compute capability or the highest one this NVRTC knows
 * below it. The driver then JIT-compiles the PTX, so the code always matches the user's own
 * toolkit and driver. PTX is cached per architecture for the life of the JVM.
 */
final class NvrtcCompiler {
    private NvrtcCompiler() { }

    /** The program name NVRTC uses in its messages. */
    static final String PROGRAM = "bptt_kernels.cu";

    private static final Map<Integer, String> PTX = new ConcurrentHashMap<>();

    /** The NVRTC options for a device of compute capability {@code cc} (e.g. 86), given the NVRTC's archs. */
    static List<String> options(int cc, int[] supportedArchs) {
        return List.of("--gpu-arch=compute_" + targetArch(cc, supportedArchs), "--std=c++17");
    }

    /** The highest architecture NVRTC supports that is not above the device's; rejects devices it is too new to know. */
    static int targetArch(int cc, int[] supportedArchs) {
        int best = -1;
        for (int arch : supportedArchs) {
            if (arch <= cc && arch > best) {
                best = arch;
            }
        }
        if (best < 0) {
            throw new IllegalStateException("this NVRTC compiles for " + Arrays.toString(supportedArchs)
                    + ", none of which runs on a device of compute capability " + cc / 10 + "." + cc % 10
                    + ": install a CUDA 12.x toolkit that supports it");
        }
        return best;
    }

    /** PTX of the kernels for a device of compute capability {@code cc}, compiled on first use. */
    static String ptx(int cc) {
        return PTX.computeIfAbsent(cc, NvrtcCompiler::compile);
    }

    /** "12.6" for the loaded libnvrtc. */
    static String version() {
        int[] major = new int[1];
        int[] minor = new int[1];
        check(JNvrtc.nvrtcVersion(major, minor), "nvrtcVersion", null);
        return major[0] + "." + minor[0];
    }

    private static int[] supportedArchs() {
        int[] n = new int[1];
        check(JNvrtc.nvrtcGetNumSupportedArchs(n), "nvrtcGetNumSupportedArchs", null);
        int[] archs = new int[n[0]];
        check(JNvrtc.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs", null);
        return archs;
    }

    private static String compile(int cc) {
        List<String> options = options(cc, supportedArchs());
        nvrtcProgram program = new nvrtcProgram();
        check(JNvrtc.nvrtcCreateProgram(program, KernelSource.source(KernelSource.Api.CUDA), PROGRAM, 0, null, null),
                "nvrtcCreateProgram", null);
        try {
            int result = JNvrtc.nvrtcCompileProgram(program, options.size(), options.toArray(new String[0]));
            check(result, "NVRTC " + version() + " compiling kernels/" + KernelSource.BODIES + " with " + options,
                    program);
            String[] ptx = new String[1];
            check(JNvrtc.nvrtcGetPTX(program, ptx), "nvrtcGetPTX", program);
            return ptx[0];
        } finally {
            JNvrtc.nvrtcDestroyProgram(program);
        }
    }

    private static void check(int result, String what, nvrtcProgram program) {
        if (result != nvrtcResult.NVRTC_SUCCESS) {
            String log = program == null ? "" : log(program);
            throw new CudaErrors.CudaFailure(what + " failed: " + nvrtcResult.stringFor(result)
                    + (log.isBlank() ? "" : "\n" + log.strip()), result);
        }
    }

    private static String log(nvrtcProgram program) {
        String[] log = new String[1];
        return JNvrtc.nvrtcGetProgramLog(program, log) == nvrtcResult.NVRTC_SUCCESS && log[0] != null ? log[0] : "";
    }
}
