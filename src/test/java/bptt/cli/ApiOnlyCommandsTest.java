// ApiOnlyCommandsTest: which CLI classes go only through the public API (bptt.api), and which reach the engine and why.
package bptt.cli;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The commands are the API's first users: whatever they do, a library user can do with bptt.api
 * alone. A class in {@link #API_ONLY} that imports bptt.backend, bptt.rnn, bptt.train (or any
 * other bptt package but bptt.api and bptt.cli) fails this test. Every class of bptt.cli is in
 * exactly one of the two lists, so a new one must be placed (and an exemption stated).
 */
class ApiOnlyCommandsTest {
    /** Go through bptt.api only. */
    static final List<String> API_ONLY = List.of("BackendOption", "CudaGraphOption", "DenseData", "DenseTrain",
            "DevicesCommand", "EvalCommand", "EvalDense", "Main", "PlanReport", "PredictCommand", "SampleCommand",
            "StopSignals", "TrainCommand", "UserError");
    /**
     * Engine diagnostics, exempt by design: they test the internals themselves (bench times the
     * Workspace and counts kernel launches, gradcheck compares BPTT with finite differences,
     * conformance holds each Backend against cpu-ref), so the API has nothing to offer them;
     * EngineErrors turns the engine exceptions they meet into the CLI's one-line errors.
     */
    static final List<String> ENGINE_DIAGNOSTICS = List.of("BenchCommand", "ConformanceCommand", "EngineErrors",
            "GradcheckCommand");
    private static final Path CLI = Path.of("src/main/java/bptt/cli");
    private static final Pattern IMPORT = Pattern.compile("^import\\s+(?:static\\s+)?(bptt\\.[\\w.]+)", Pattern.MULTILINE);
    private static final Pattern QUALIFIED = Pattern.compile("\\bbptt\\.(backend|rnn|train|tensor|conformance)\\.");

    @Test
    void commandsOnTheApiImportNoInternalPackage() throws Exception {
        for (String name : API_ONLY) {
            String internal = internalUse(Files.readString(CLI.resolve(name + ".java")));
            assertTrue(internal == null, name + " uses " + internal + ", an internal package: go through bptt.api");
        }
    }

    @Test
    void everyCliClassIsPlaced() throws Exception {
        Set<String> placed = new TreeSet<>(API_ONLY);
        placed.addAll(ENGINE_DIAGNOSTICS);
        assertEquals(API_ONLY.size() + ENGINE_DIAGNOSTICS.size(), placed.size(),
                "a class is in two lists");
        Set<String> present = new TreeSet<>();
        try (Stream<Path> files = Files.list(CLI)) {
            files.map(p -> p.getFileName().toString()).filter(f -> f.endsWith(".java"))
                    .forEach(f -> present.add(f.substring(0, f.length() - ".java".length())));
        }
        assertEquals(present, placed, "every bptt.cli class is API-only or an engine diagnostic");
    }

    @Test
    void theExemptionsReallyReachTheEngine() throws Exception {
        for (String name : ENGINE_DIAGNOSTICS) {
            assertFalse(internalUse(Files.readString(CLI.resolve(name + ".java"))) == null,
                    name + " uses only bptt.api now: move it to API_ONLY");
        }
    }

    @Test
    void theCheckCatchesAnInternalImportOrName() {
        assertEquals("bptt.train.Trainer", internalUse("package bptt.cli;\nimport bptt.train.Trainer;\n"));
        assertEquals("bptt.rnn.", internalUse("package bptt.cli;\nclass A { bptt.rnn.Rnn r; }\n"));
        assertEquals(null, internalUse("package bptt.cli;\nimport bptt.api.Model;\nimport bptt.cli.UserError;\n"));
    }

    /** The first internal package the source imports or names by its full name, or null. */
    private static String internalUse(String source) {
        Matcher m = IMPORT.matcher(source);
        while (m.find()) {
            String imported = m.group(1);
            if (!imported.startsWith("bptt.api.") && !imported.startsWith("bptt.cli.")) {
                return imported;
            }
        }
        Matcher q = QUALIFIED.matcher(source);
        return q.find() ? q.group() : null;
    }
}
