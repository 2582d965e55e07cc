// KernelSource: loads the single-source kernels (kernels/ on the class path) with one API's prelude.
package bptt.backend;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernels of {@code kernels/} are written once in the common subset of OpenCL C and CUDA
 * C++; a backend compiles one prelude followed by the body files, in {@link #BODY_FILES} order,
 * as one program (the tests' emulated CUDA driver compiles them as host C with a third prelude).
 * Everything is read from the class path (the jar), never from the working directory. A
 * {@code #line} directive before each body file makes compiler messages point at lines of that
 * file itself.
 */
public final class KernelSource {
    /** The file holding the engine's general kernels, under {@code kernels/} on the class path. */
    public static final String BODIES = "bptt_kernels.cl.cu";
    /** The recurrent cells' fused pointwise kernels (tanh backward, LSTM, GRU). */
    public static final String CELLS = "cells.cl.cu";
    /** Every body file, in the order they are compiled. */
    public static final List<String> BODY_FILES = List.of(BODIES, CELLS);

    private static final Pattern KERNEL_NAME = Pattern.compile("^KERNEL\\s+void\\s+(\\w+)\\s*\\(", Pattern.MULTILINE);

    private KernelSource() { }

    /** The dialects the bodies compile as: OpenCL C, CUDA C++, and host C11 for the emulated CUDA driver of the tests. */
    public enum Api {
        OPENCL("prelude_opencl.h"),
        CUDA("prelude_cuda.h"),
        HOST("prelude_host.h");

        private final String prelude;

        Api(String prelude) { this.prelude = prelude; }

        public String preludeFile() { return prelude; }
    }

    /** Prelude of {@code api}, then each body file after a #line directive: one compilable unit. */
    public static String source(Api api) {
        StringBuilder s = new StringBuilder(read(api.preludeFile()));
        for (String file : BODY_FILES) {
            s.append("\n#line 1 \"").append(file).append("\"\n").append(read(file));
        }
        return s.toString();
    }

    /** The kernel bodies alone: every body file, in order. */
    public static String bodies() {
        StringBuilder s = new StringBuilder();
        for (String file : BODY_FILES) {
            s.append(read(file)).append('\n');
        }
        return s.toString();
    }

    /** Every kernel name defined in the bodies, in file order. */
    public static List<String> kernelNames() {
        List<String> names = new ArrayList<>();
        Matcher m = KERNEL_NAME.matcher(bodies());
        while (m.find()) {
            names.add(m.group(1));
        }
        return names;
    }

    /** Reads {@code kernels/<file>} from the class path. */
    public static String read(String file) {
        String resource = "/kernels/" + file;
        try (InputStream in = KernelSource.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + resource + " is not on the class path;"
                        + " rebuild the jar with 'mvn package' (kernels/ is packaged as a resource)");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read kernel source " + resource + ": " + e.getMessage(), e);
        }
    }
}
