// HostKernelsTest: the emulator's kernel table is derived from the source: signatures, refusals, and the three preludes agree.
package bptt.backend.cuda;

import bptt.backend.KernelSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HostKernelsTest {
    private static Set<String> macros(String prelude) {
        Set<String> names = new TreeSet<>();
        Matcher m = Pattern.compile("^#define (\\w+)", Pattern.MULTILINE).matcher(KernelSource.read(prelude));
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    @Test
    void theThreePreludesDefineTheSameMacros() {
        Set<String> cuda = macros(KernelSource.Api.CUDA.preludeFile());
        assertEquals(cuda, macros(KernelSource.Api.OPENCL.preludeFile()), "prelude_opencl.h");
        assertEquals(cuda, macros(KernelSource.Api.HOST.preludeFile()), "prelude_host.h (the emulator's)");
    }

    @Test
    void everyKernelOfTheSourceIsInTheTableWithItsSignature() {
        List<HostKernels.Kernel> kernels = HostKernels.parse(KernelSource.source(KernelSource.Api.HOST));
        assertEquals(KernelSource.kernelNames(), kernels.stream().map(HostKernels.Kernel::name).toList());
        HostKernels.Kernel adam = kernels.stream().filter(k -> k.name().equals("adam_update")).findFirst().orElseThrow();
        assertEquals("pipipipipiiffff", adam.signature());
        kernels.forEach(k -> assertNull(k.refused(), k.name()));
        String c = HostKernels.generate(KernelSource.source(KernelSource.Api.HOST));
        assertTrue(c.contains("{\"sum_rows_final\", \"pipiiif\", launch_sum_rows_final, NULL}"), c);
        assertTrue(c.contains("const int emu_kernel_count = " + kernels.size() + ";"), c);
    }

    @Test
    void aKernelWithABarrierIsLeftOutAndRefusedByName() {
        String program = KernelSource.read(KernelSource.Api.HOST.preludeFile())
                + "/* a comment with KERNEL void fake(int x) { } in it */\n"
                + "KERNEL void ok_kernel(GLOBAL float* RESTRICT x, int xOff, int n, float v)\n{\n    x[xOff] = v;\n}\n"
                + "KERNEL void reduce(GLOBAL const float* RESTRICT x, int xOff, GLOBAL float* out, int outOff, int n)\n"
                + "{\n    __shared__ float part[256];\n    part[0] = x[xOff];\n    __syncthreads();\n"
                + "    out[outOff] = part[0];\n}\n";
        List<HostKernels.Kernel> kernels = HostKernels.parse(program);
        assertEquals(List.of("ok_kernel", "reduce"), kernels.stream().map(HostKernels.Kernel::name).toList());
        assertNull(kernels.get(0).refused());
        assertTrue(kernels.get(1).refused().startsWith("uses __shared__ (barriers, shared memory"), kernels.get(1).refused());
        String c = HostKernels.generate(program);
        assertTrue(c.contains("{\"reduce\", \"pipii\", NULL, \"uses __shared__"), c);
        assertTrue(!c.contains("__syncthreads();"), "the refused body is not compiled for the host");
        assertEquals(program.split("\n", -1).length, c.substring(c.indexOf("#line 1 \"prelude_host.h\"\n") + 25,
                c.indexOf("\n#line 1 \"host_kernels.c")).split("\n", -1).length, "line numbers are kept");
    }

    @Test
    void withoutGccTheEmulatorIsNotBuiltAndTheBuildCarriesOn(@TempDir Path out) throws Exception {
        Files.writeString(out.resolve("libcuda.so.1"), "stale");
        ProcessBuilder build = new ProcessBuilder("bash", "src/test/native/build", out.toString())
                .redirectErrorStream(true);
        build.environment().put("CC", "no-such-compiler");
        Process p = build.start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), output);
        assertTrue(output.contains("warning: no-such-compiler not found: the CUDA emulator is not built"), output);
        assertFalse(Files.exists(out.resolve("libcuda.so.1")), "no stale emulator is left behind");
    }

    @Test
    void parametersOutsideTheAbiAreRejected() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> HostKernels.parse("KERNEL void k(double d)\n{\n}\n"));
        assertTrue(e.getMessage().contains("kernel k, parameter 'double d'"), e.getMessage());
    }
}
