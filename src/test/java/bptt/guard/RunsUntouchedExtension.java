// RunsUntouchedExtension: fails any test class that creates, changes or deletes a file under the repository's runs/.
package bptt.guard;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Registered for every test class (META-INF/services + junit-platform.properties). Tests run in
 * the repository, where {@code scripts/bptt train} keeps the user's checkpoints under
 * {@code runs/}; a test that trains without {@code --save} in a temporary directory would
 * overwrite them. This snapshot of {@code runs/} (every file's size and modification time) is
 * taken before a class and compared after it, so such a test fails, naming the files.
 */
public final class RunsUntouchedExtension implements BeforeAllCallback, AfterAllCallback {
    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(RunsUntouchedExtension.class);
    private static final Path RUNS = Path.of("runs");

    @Override
    public void beforeAll(ExtensionContext context) {
        context.getStore(NAMESPACE).put("snapshot", snapshot(RUNS));
    }

    @Override
    public void afterAll(ExtensionContext context) {
        @SuppressWarnings("unchecked")
        Map<String, String> before = context.getStore(NAMESPACE).get("snapshot", Map.class);
        String changes = differences(before, snapshot(RUNS));
        if (!changes.isEmpty()) {
            throw new AssertionError(context.getDisplayName() + " changed the user's files under "
                    + RUNS.toAbsolutePath() + " (" + changes + "): tests must write only under a @TempDir");
        }
    }

    /** Each regular file under {@code dir} (relative name) with its size and modification time; empty when absent. */
    static Map<String, String> snapshot(Path dir) {
        Map<String, String> files = new TreeMap<>();
        if (!Files.isDirectory(dir)) {
            return files;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                if (a.isRegularFile()) {
                    files.put(dir.relativize(p).toString(), a.size() + " bytes, modified " + a.lastModifiedTime());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list " + dir, e);
        }
        return files;
    }

    /** The files created, changed or deleted between two snapshots, as one line; empty when none. */
    static String differences(Map<String, String> before, Map<String, String> after) {
        StringBuilder s = new StringBuilder();
        for (Map.Entry<String, String> e : after.entrySet()) {
            String old = before.get(e.getKey());
            if (old == null) {
                s.append(s.length() == 0 ? "" : ", ").append("created ").append(e.getKey());
            } else if (!old.equals(e.getValue())) {
                s.append(s.length() == 0 ? "" : ", ").append("changed ").append(e.getKey());
            }
        }
        for (String name : before.keySet()) {
            if (!after.containsKey(name)) {
                s.append(s.length() == 0 ? "" : ", ").append("deleted ").append(name);
            }
        }
        return s.toString();
    }
}
