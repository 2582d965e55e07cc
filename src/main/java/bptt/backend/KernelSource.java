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
 * C++; a backend compiles one prelude followed by the bodies (the tests' emulated CUDA driver compiles
 * them as host C with a third prelude). Everything is read from the class
 * path (the jar), never from the working directory. A {@code #line} directive after the prelude
 * makes compiler messages point at lines of the body file itself.
 */
public final class KernelSource {
    /** The file holding every kernel body, under {@code kernels/} on the class path. */
    public static final String BODIES = "bptt_kernels.cl.cu";

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

    /** Prelude of {@code api} + a #line directive + the kernel bodies: one compilable unit. */
    public static String source(Api api) {
        return read(api.preludeFile()) + "\n#line 1 \"" + BODIES + "\"\n" + read(BODIES);
    }

    /** The kernel bodies alone. */
    public static String bodies() { return read(BODIES); }

    /** Every kernel name defined in the bodies, in file order. */
    public static List<String> kernelNames() {
        List<String> names = new ArrayList<>();
        Matcher m = KERNEL_NAME.matcher(read(BODIES));
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
