// NvrtcCompiler: compiles the kernels/ source with NVRTC: CUBIN for an architecture NVRTC knows, PTX only beyond it.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import jcuda.nvrtc.JNvrtc;
import jcuda.nvrtc.nvrtcProgram;
import jcuda.nvrtc.nvrtcResult;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * NVRTC turns {@code prelude_cuda.h + bptt_kernels.cl.cu} (from the class path) into the image
 * {@code cuModuleLoadData} takes. For a device whose architecture this NVRTC knows, that is a
 * CUBIN for {@code sm_XY}: machine code, which every CUDA 12 driver loads, so a first run never
 * depends on the driver's PTX JIT. Only for a device newer than NVRTC is it PTX for the highest
 * architecture NVRTC knows; a driver loads PTX only up to its own PTX ISA version, so the PTX's
 * {@code .version} is checked against the driver's CUDA version and a mismatch says what to
 * update. Images are cached per architecture for the life of the JVM.
 */
final class NvrtcCompiler {
    private NvrtcCompiler() { }

    /** The program name NVRTC uses in its messages. */
    static final String PROGRAM = "bptt_kernels.cu";

    /** What cuModuleLoadData gets: a CUBIN for {@code sm_XY}, or NUL-terminated PTX for {@code compute_XY}. */
    record Image(byte[] bytes, boolean cubin, int arch) {
        String describe() { return (cubin ? "CUBIN for sm_" : "PTX for compute_") + arch; }
    }

    private static final Map<Integer, Image> IMAGES = new ConcurrentHashMap<>();

    /** PTX ISA version (major·10 + minor) → the first CUDA version (major·1000 + minor·10) whose driver loads it. */
    private static final int[][] PTX_ISA_CUDA = {{80, 12000}, {81, 12010}, {82, 12020}, {83, 12030}, {84, 12040},
            {85, 12050}, {86, 12070}, {87, 12080}, {88, 12090}, {90, 13000}};

    /** CUDA version → the NVIDIA Linux driver branch that introduced it (CUDA toolkit release notes). */
    private static final int[][] CUDA_DRIVER = {{12000, 525}, {12010, 530}, {12020, 535}, {12030, 545},
            {12040, 550}, {12050, 555}, {12060, 560}, {12080, 570}, {12090, 575}, {13000, 580}};

    private static final Pattern PTX_VERSION = Pattern.compile("^\\.version (\\d+)\\.(\\d)", Pattern.MULTILINE);

    /** The NVRTC options for a device of compute capability {@code cc} (e.g. 86), given the NVRTC's archs. */
    static List<String> options(int cc, int[] supportedArchs) {
        return List.of("-arch=" + (knows(cc, supportedArchs) ? "sm_" : "compute_") + targetArch(cc, supportedArchs),
                "-std=c++17");
    }

    static boolean knows(int cc, int[] supportedArchs) { return Arrays.stream(supportedArchs).anyMatch(a -> a == cc); }

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

    /** The kernels for a device of compute capability {@code cc} under a driver of CUDA version {@code driver}. */
    static Image image(int cc, int driver) {
        Image image = IMAGES.computeIfAbsent(cc, NvrtcCompiler::compile);
        if (!image.cubin()) {
            checkPtxLoads(ptxIsa(image.bytes()), driver, cc, version());
        }
        return image;
    }

    /**
     * Throws, saying what to update, unless a driver of CUDA version {@code driver} loads PTX of
     * ISA {@code isa} (major·10 + minor) made by NVRTC {@code nvrtc} for a device of compute capability cc.
     */
    static void checkPtxLoads(int isa, int driver, int cc, String nvrtc) {
        int needed = cudaForPtxIsa(isa);
        if (driver >= needed) {
            return;
        }
        throw new CudaErrors.CudaFailure("this GPU (sm_" + cc + ") is newer than NVRTC " + nvrtc + " knows, so the"
                + " kernels are PTX (ISA " + isa / 10 + "." + isa % 10 + ") for the driver to compile, but the driver"
                + " supports CUDA " + CudaProbe.cudaVersion(driver) + ", which loads PTX only up to ISA "
                + maxPtxIsa(driver) / 10 + "." + maxPtxIsa(driver) % 10 + ": update the NVIDIA driver to release "
                + driverBranch(needed) + " or newer (CUDA " + CudaProbe.cudaVersion(needed) + "), or put a CUDA 12.x"
                + " toolkit that knows sm_" + cc + " (its libnvrtc.so.12) first on LD_LIBRARY_PATH",
                jcuda.driver.CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION);
    }

    /** The first CUDA version whose driver loads PTX ISA {@code isa}. */
    static int cudaForPtxIsa(int isa) {
        for (int[] row : PTX_ISA_CUDA) {
            if (row[0] >= isa) {
                return row[1];
            }
        }
        return PTX_ISA_CUDA[PTX_ISA_CUDA.length - 1][1];
    }

    /** The highest PTX ISA a driver of CUDA version {@code driver} loads. */
    static int maxPtxIsa(int driver) {
        int isa = 78;
        for (int[] row : PTX_ISA_CUDA) {
            if (driver >= row[1]) {
                isa = row[0];
            }
        }
        return isa;
    }

    private static int driverBranch(int cuda) {
        int branch = CUDA_DRIVER[0][1];
        for (int[] row : CUDA_DRIVER) {
            if (cuda >= row[0]) {
                branch = row[1];
            }
        }
        return branch;
    }

    /** The {@code .version} of PTX text, as major·10 + minor. */
    static int ptxIsa(byte[] ptx) {
        Matcher m = PTX_VERSION.matcher(new String(ptx, StandardCharsets.US_ASCII));
        if (!m.find()) {
            throw new IllegalStateException("NVRTC produced PTX without a .version directive");
        }
        return Integer.parseInt(m.group(1)) * 10 + Integer.parseInt(m.group(2));
    }

    /** "12.6" for the loaded libnvrtc. */
    static String version() {
        int[] major = new int[1];
        int[] minor = new int[1];
        check(JNvrtc.nvrtcVersion(major, minor), "nvrtcVersion", null);
        return major[0] + "." + minor[0];
    }

    /** The architectures (e.g. 50 … 90) the loaded libnvrtc compiles for. */
    static int[] supportedArchs() {
        int[] n = new int[1];
        check(JNvrtc.nvrtcGetNumSupportedArchs(n), "nvrtcGetNumSupportedArchs", null);
        int[] archs = new int[n[0]];
        check(JNvrtc.nvrtcGetSupportedArchs(archs), "nvrtcGetSupportedArchs", null);
        return archs;
    }

    private static Image compile(int cc) {
        int[] archs = supportedArchs();
        List<String> options = options(cc, archs);
        nvrtcProgram program = new nvrtcProgram();
        check(JNvrtc.nvrtcCreateProgram(program, KernelSource.source(KernelSource.Api.CUDA), PROGRAM, 0, null, null),
                "nvrtcCreateProgram", null);
        try {
            int result = JNvrtc.nvrtcCompileProgram(program, options.size(), options.toArray(new String[0]));
            check(result, "NVRTC " + version() + " compiling kernels/" + KernelSource.BODIES + " with " + options,
                    program);
            if (knows(cc, archs)) {
                long[] size = new long[1];
                check(JNvrtc.nvrtcGetCUBINSize(program, size), "nvrtcGetCUBINSize", program);
                byte[] cubin = new byte[Math.toIntExact(size[0])];
                check(JNvrtc.nvrtcGetCUBIN(program, cubin), "nvrtcGetCUBIN", program);
                return new Image(cubin, true, cc);
            }
            String[] ptx = new String[1];
            check(JNvrtc.nvrtcGetPTX(program, ptx), "nvrtcGetPTX", program);
            return new Image((ptx[0] + '\0').getBytes(StandardCharsets.US_ASCII), false, targetArch(cc, archs));
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
