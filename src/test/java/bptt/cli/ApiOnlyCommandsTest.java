// ApiOnlyCommandsTest: the CLI's classes for real-valued data and predict import the public API (bptt.api) and no internal package.
package bptt.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * These commands are the API's first users: whatever they do, a library user can do with
 * bptt.api alone. A class listed here that imports bptt.backend, bptt.rnn, bptt.train (or any
 * other bptt package but bptt.api and bptt.cli) fails this test.
 */
class ApiOnlyCommandsTest {
    static final List<String> API_ONLY = List.of("DenseData", "DenseTrain", "DevicesCommand", "EvalCommand", "EvalDense", "PredictCommand", "SampleCommand");
    private static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?(bptt\\.[\\w.]+)", Pattern.MULTILINE);
    private static final Pattern QUALIFIED = Pattern.compile("\\bbptt\\.(backend|rnn|train|tensor|conformance)\\.");

    @Test
    void commandsOnTheApiImportNoInternalPackage() throws Exception {
        for (String name : API_ONLY) {
            String source = Files.readString(Path.of("src/main/java/bptt/cli", name + ".java"));
            Matcher m = IMPORT.matcher(source);
            while (m.find()) {
                String imported = m.group(1);
                assertTrue(imported.startsWith("bptt.api.") || imported.startsWith("bptt.cli."),
                        name + " imports " + imported + ", an internal package: go through bptt.api");
            }
            assertTrue(!QUALIFIED.matcher(source).find(), name + " names an internal class by its full name");
        }
    }

    @Test
    void theCheckCatchesAnInternalImport() {
        String bad = "package bptt.cli;\nimport bptt.train.Trainer;\n";
        Matcher m = IMPORT.matcher(bad);
        assertTrue(m.find() && !m.group(1).startsWith("bptt.api."), "the pattern sees an internal import");
    }
}
