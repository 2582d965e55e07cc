// NvccKernelCompileTest: kernels/ compile with nvcc for sm_75..sm_90, warnings as errors, with unmangled entry points.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Compiles every {@code .cu} file under kernels/ with nvcc and {@code -Werror all-warnings
 * -Xptxas -Werror}, for sm_75, sm_80, sm_86, sm_89 and sm_90 in one call per program; the body
 * files as the exact program the cuda backend hands to NVRTC ({@code KernelSource.source(CUDA)}). Checks that the PTX has an unmangled entry for every kernel, and that these
 * flags really turn a warning into a failure. Without nvcc the tests are skipped, unless
 * BPTT_REQUIRE_NVCC=1 (CI), which makes a missing nvcc a failure.
 */
class NvccKernelCompileTest {
    static final int[] ARCHS = {75, 80, 86, 89, 90};
    static final List<String> WERROR = List.of("-Werror", "all-warnings", "-Xptxas", "-Werror");

    private static String nvcc;

    @BeforeAll
    static void findNvcc() {
        nvcc = locateNvcc();
        if (nvcc == null) {
            String why = "nvcc not found (looked at $NVCC, PATH and /usr/local/cuda/bin)";
            if ("1".equals(System.getenv("BPTT_REQUIRE_NVCC"))) {
                fail(why + " but BPTT_REQUIRE_NVCC=1: install the CUDA toolkit's nvcc or put it on PATH");
            }
            Assumptions.abort(why + "; set BPTT_REQUIRE_NVCC=1 to make this a failure");
        }
    }

    private static String locateNvcc() {
        String env = System.getenv("NVCC");
        if (env != null && new File(env).canExecute()) {
            return env;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            File f = new File(dir, "nvcc");
            if (f.canExecute()) {
                return f.getPath();
            }
        }
        File fallback = new File("/usr/local/cuda/bin/nvcc");
        return fallback.canExecute() ? fallback.getPath() : null;
    }

    record Run(int exit, String output) { }

    private static Run nvcc(Path dir, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(nvcc);
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("nvcc did not finish within 300 s: " + cmd);
        }
        return new Run(p.exitValue(), String.join(" ", cmd) + "\n" + new String(out, StandardCharsets.UTF_8));
    }

    /** nvcc arguments for all architectures at once, warnings as errors, device code only. */
    static List<String> allArchs(String source, String output) {
        List<String> args = new ArrayList<>(List.of("-x", "cu", "-std=c++17", "--fatbin", source, "-o", output));
        args.addAll(WERROR);
        for (int arch : ARCHS) {
            args.add("-gencode");
            args.add("arch=compute_" + arch + ",code=sm_" + arch);
        }
        return args;
    }

    /**
     * One nvcc call per program, all architectures at once. The body files are compiled as the
     * exact text NVRTC gets (prelude + #line + each body file, read from the class path); any
     * other .cu file after {@code -include prelude_cuda.h}.
     */
    @Test
    void everyCuFileUnderKernelsCompilesForEveryArchitectureWithoutWarnings(@TempDir Path tmp) throws Exception {
        Path kernels = Path.of("kernels").toAbsolutePath();
        List<Path> files;
        try (Stream<Path> s = Files.list(kernels)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".cu")).sorted().toList();
        }
        for (String body : KernelSource.BODY_FILES) {
            assertTrue(files.contains(kernels.resolve(body)), "no " + body + " in " + kernels);
            assertEquals(Files.readString(kernels.resolve(body)), KernelSource.read(body),
                    "class-path copy of " + body + " is stale");
        }
        Files.writeString(tmp.resolve(NvrtcCompiler.PROGRAM), KernelSource.source(KernelSource.Api.CUDA));
        Run program = nvcc(tmp, allArchs(NvrtcCompiler.PROGRAM, "bptt_kernels.fatbin"));
        assertEquals(0, program.exit(), program.output());
        for (Path f : files) {
            if (KernelSource.BODY_FILES.contains(f.getFileName().toString())) {
                continue;   // compiled above, as the one program NVRTC gets
            }
            List<String> args = new ArrayList<>(List.of("-include", kernels.resolve("prelude_cuda.h").toString()));
            args.addAll(allArchs(f.toString(), f.getFileName() + ".fatbin"));
            Run run = nvcc(tmp, args);
            assertEquals(0, run.exit(), run.output());
        }
    }

    @Test
    void everyKernelIsAnUnmangledPtxEntry(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve(NvrtcCompiler.PROGRAM), KernelSource.source(KernelSource.Api.CUDA));
        List<String> args = new ArrayList<>(List.of("-x", "cu", "-std=c++17", "--ptx", "-arch=compute_75",
                NvrtcCompiler.PROGRAM, "-o", "k.ptx"));
        args.addAll(WERROR.subList(0, 2));
        Run run = nvcc(tmp, args);
        assertEquals(0, run.exit(), run.output());
        String ptx = Files.readString(tmp.resolve("k.ptx"));
        List<String> names = KernelSource.kernelNames();
        assertEquals(29, names.size(), "kernels: " + names);
        for (String name : names) {
            assertTrue(ptx.contains(".visible .entry " + name + "("), "no PTX entry named " + name
                    + " (cuModuleGetFunction looks kernels up by their plain names: KERNEL must be extern \"C\")");
        }
    }

    /** The flags are not decorative: an unused variable fails the build. */
    @Test
    void aWarningFailsTheBuild(@TempDir Path tmp) throws Exception {
        Files.writeString(tmp.resolve("warn.cu"), KernelSource.read("prelude_cuda.h")
                + "\nKERNEL void warns(GLOBAL float* RESTRICT x, int xOff) { int unused = 3; x[xOff] = 1.0f; }\n");
        List<String> args = new ArrayList<>(List.of("-x", "cu", "--fatbin", "warn.cu", "-o", "warn.fatbin"));
        args.addAll(WERROR);
        args.addAll(List.of("-gencode", "arch=compute_75,code=sm_75"));
        Run run = nvcc(tmp, args);
        assertNotEquals(0, run.exit(), "nvcc accepted a warning: " + run.output());
        assertTrue(run.output().contains("unused"), run.output());
    }
}
