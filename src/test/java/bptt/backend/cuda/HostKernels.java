// HostKernels: generates the CUDA emulator's host kernel table from KernelSource.source(HOST) at build time.
package bptt.backend.cuda;

import bptt.backend.KernelSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads exactly the program {@link KernelSource} assembles for the host (prelude_host.h + the
 * kernel bodies), finds every {@code KERNEL void name(...)} and its parameters from the source
 * itself (the ABI of kernels/README.md: pointers, ints, floats), and writes one C file: the
 * program, then per kernel a launcher that walks every block and thread of a grid, then the
 * table {@code emu_kernels[]} the emulated driver looks kernels up in (src/test/native). A
 * kernel that uses barriers, shared memory or cross-thread operations cannot run one thread
 * after another: its body is left out of the host build and its table entry says why, so the
 * emulator refuses it by name. The pom runs {@link #main} after test-compile; nothing here is
 * written by hand per kernel, so new kernels need no change.
 */
public final class HostKernels {
    private HostKernels() { }

    /** A C parameter of a kernel, as the emulator copies it: pointer, int or float. */
    enum Param {
        POINTER('p'), INT('i'), FLOAT('f');

        final char letter;

        Param(char letter) { this.letter = letter; }
    }

    /** One kernel: its name, C parameters, where its text lies in the program, and why it is refused (or null). */
    record Kernel(String name, List<Param> params, int start, int end, String refused) {
        String signature() {
            StringBuilder s = new StringBuilder();
            params.forEach(p -> s.append(p.letter));
            return s.toString();
        }
    }

    private static final Pattern KERNEL = Pattern.compile("^KERNEL\\s+void\\s+(\\w+)\\s*\\(", Pattern.MULTILINE);

    /** What one host thread cannot emulate: barriers, shared/local memory, warp and atomic operations. */
    static final Pattern CROSS_THREAD = Pattern.compile("\\b(__syncthreads\\w*|__syncwarp|__shared__|__local|"
            + "barrier|work_group_\\w+|sub_group_\\w+|mem_fence|read_mem_fence|write_mem_fence|__threadfence\\w*|"
            + "__shfl\\w*|atomic\\w*|atom_\\w+|BARRIER|SYNC_THREADS|LOCAL|SHARED|LOCAL_MEM|SHARED_MEM)\\b");

    /** Every kernel of a program, with its parameters parsed from the source. */
    static List<Kernel> parse(String program) {
        String code = withoutComments(program);
        List<Kernel> kernels = new ArrayList<>();
        Matcher m = KERNEL.matcher(code);
        while (m.find()) {
            String name = m.group(1);
            int close = matching(code, m.end() - 1, '(', ')');
            int open = code.indexOf('{', close);
            int end = matching(code, open, '{', '}') + 1;
            List<Param> params = new ArrayList<>();
            for (String p : code.substring(m.end(), close).split(",")) {
                params.add(param(name, p.trim()));
            }
            Matcher cross = CROSS_THREAD.matcher(code.substring(open, end));
            String refused = cross.find() ? "uses " + cross.group(1) + " (barriers, shared memory or cross-thread"
                    + " operations): the emulator runs the threads of a block one after another, so it refuses to"
                    + " run it" : null;
            kernels.add(new Kernel(name, List.copyOf(params), m.start(), end, refused));
        }
        return kernels;
    }

    private static Param param(String kernel, String declaration) {
        if (declaration.contains("*")) {
            return Param.POINTER;
        }
        String[] words = declaration.split("\\s+");
        String type = words.length >= 2 ? words[words.length - 2] : "";
        return switch (type) {
            case "int" -> Param.INT;
            case "float" -> Param.FLOAT;
            default -> throw new IllegalArgumentException("kernel " + kernel + ", parameter '" + declaration
                    + "': the kernel ABI (kernels/README.md) has pointers, int and float only");
        };
    }

    /** The index of the bracket closing the one at {@code open}. */
    private static int matching(String code, int open, char opening, char closing) {
        int depth = 0;
        for (int i = open; i < code.length(); i++) {
            if (code.charAt(i) == opening) {
                depth++;
            } else if (code.charAt(i) == closing && --depth == 0) {
                return i;
            }
        }
        throw new IllegalArgumentException("unbalanced '" + opening + "' at offset " + open + " of the kernel source");
    }

    /** The program with comments replaced by spaces (newlines kept), so offsets and line numbers stay. */
    static String withoutComments(String program) {
        StringBuilder out = new StringBuilder(program);
        int i = 0;
        while (i < out.length() - 1) {
            String two = out.substring(i, i + 2);
            int end = two.equals("/*") ? out.indexOf("*/", i + 2) + 2 : two.equals("//") ? out.indexOf("\n", i) : -1;
            if (end < 0 || (two.equals("/*") && end == 1)) {
                i++;
                continue;
            }
            for (int j = i; j < end; j++) {
                if (out.charAt(j) != '\n') {
                    out.setCharAt(j, ' ');
                }
            }
            i = end;
        }
        return out.toString();
    }

    /** The C file: the program (refused kernels blanked, lines kept), one launcher per kernel, the table. */
    static String generate(String program) {
        List<Kernel> kernels = parse(program);
        StringBuilder source = new StringBuilder(program);
        for (Kernel k : kernels) {
            if (k.refused() != null) {
                for (int j = k.start(); j < k.end(); j++) {
                    if (source.charAt(j) != '\n') {
                        source.setCharAt(j, ' ');
                    }
                }
            }
        }
        StringBuilder c = new StringBuilder();
        c.append("/* host_kernels.c: generated by bptt.backend.cuda.HostKernels from KernelSource.source(HOST)"
                + " at build time; do not edit. */\n#include \"emulator.h\"\n#line 1 \"prelude_host.h\"\n");
        c.append(source).append("\n#line 1 \"host_kernels.c (generated launchers)\"\n");
        for (Kernel k : kernels) {
            if (k.refused() != null) {
                continue;
            }
            StringBuilder call = new StringBuilder();
            for (int i = 0; i < k.params().size(); i++) {
                call.append(i == 0 ? "" : ", ").append("a[").append(i).append("].").append(k.signature().charAt(i));
            }
            c.append("static void launch_").append(k.name()).append("(emu_dim3 grid, emu_dim3 block, const emu_arg *a)\n{\n")
                    .append("    bptt_host_block_dim = (bptt_host_dim3) {block.x, block.y, block.z};\n")
                    .append("    for (unsigned bz = 0; bz < grid.z; bz++)\n")
                    .append("    for (unsigned by = 0; by < grid.y; by++)\n")
                    .append("    for (unsigned bx = 0; bx < grid.x; bx++) {\n")
                    .append("        bptt_host_block_idx = (bptt_host_dim3) {bx, by, bz};\n")
                    .append("        for (unsigned tz = 0; tz < block.z; tz++)\n")
                    .append("        for (unsigned ty = 0; ty < block.y; ty++)\n")
                    .append("        for (unsigned tx = 0; tx < block.x; tx++) {\n")
                    .append("            bptt_host_thread_idx = (bptt_host_dim3) {tx, ty, tz};\n")
                    .append("            ").append(k.name()).append("(").append(call).append(");\n")
                    .append("        }\n    }\n}\n\n");
        }
        c.append("const emu_kernel emu_kernels[] = {\n");
        for (Kernel k : kernels) {
            c.append("    {\"").append(k.name()).append("\", \"").append(k.signature()).append("\", ")
                    .append(k.refused() == null ? "launch_" + k.name() : "NULL").append(", ")
                    .append(k.refused() == null ? "NULL" : "\"" + k.refused() + "\"").append("},\n");
        }
        c.append("};\nconst int emu_kernel_count = ").append(kernels.size()).append(";\n");
        return c.toString();
    }

    /** Writes the generated C file to {@code args[0]}. */
    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            throw new IllegalArgumentException("usage: HostKernels OUTPUT.c");
        }
        Path out = Path.of(args[0]);
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, generate(KernelSource.source(KernelSource.Api.HOST)), StandardCharsets.UTF_8);
    }
}
