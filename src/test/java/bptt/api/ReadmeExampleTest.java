// ReadmeExampleTest: the README's Java example, cut out of README.md, compiled against the library and run in a fresh JVM.
package bptt.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The README shows exactly what this runs: if the API changes under it, this fails. */
class ReadmeExampleTest {
    @TempDir
    Path dir;

    /** The first ```java block of README.md. */
    static String example() throws Exception {
        Matcher m = Pattern.compile("```java\\n(.*?)```", Pattern.DOTALL).matcher(Files.readString(Path.of("README.md")));
        assertTrue(m.find(), "README.md has a ```java block");
        return m.group(1);
    }

    @Test
    void theReadmesJavaExampleCompilesAndTrains() throws Exception {
        String source = example();
        Matcher name = Pattern.compile("public class (\\w+)").matcher(source);
        assertTrue(name.find(), "the example declares a public class");
        Path file = Files.writeString(dir.resolve(name.group(1) + ".java"), source);
        String classpath = System.getProperty("java.class.path");
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream errors = new ByteArrayOutputStream();
        int compiled = javac.run(null, errors, errors, "-Xlint:all,-path", "-Werror", "-cp", classpath, "-d",
                dir.toString(), file.toString());
        assertEquals(0, compiled, "the README example does not compile:\n" + errors);

        Path javaExe = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(List.of(javaExe.toString(), "--add-modules", "jdk.incubator.vector", "-cp",
                dir + java.io.File.pathSeparator + classpath, name.group(1)))
                .directory(dir.toFile()).redirectErrorStream(true).start();
        assertTrue(p.waitFor(10, TimeUnit.MINUTES), "the example finishes");
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.exitValue(), out);
        Matcher mse = Pattern.compile("held-out MSE ([0-9.]+), MAE ([0-9.]+)").matcher(out);
        assertTrue(mse.find(), out);
        // sin(0.07 t) has variance 0.5: a model that learned nothing scores about that
        assertTrue(Double.parseDouble(mse.group(1)) < 0.05, "the example's model learned the wave: " + out);
        assertTrue(Files.size(dir.resolve("wave.safetensors")) > 0, "it saved the model in its working directory");
        assertTrue(out.contains("after the last step: "), out);
    }
}
