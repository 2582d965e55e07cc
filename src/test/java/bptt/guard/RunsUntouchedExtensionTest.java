// RunsUntouchedExtensionTest: the guard sees a created, a rewritten and a deleted checkpoint.
package bptt.guard;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RunsUntouchedExtensionTest {
    @TempDir
    Path dir;

    @Test
    void createdChangedAndDeletedFilesAreAllReported() throws Exception {
        Path runs = Files.createDirectories(dir.resolve("runs"));
        Path model = Files.writeString(runs.resolve("model.safetensors"), "weights");
        Path curve = Files.writeString(runs.resolve("model.loss.svg"), "<svg/>");
        Map<String, String> before = RunsUntouchedExtension.snapshot(runs);
        assertEquals("", RunsUntouchedExtension.differences(before, RunsUntouchedExtension.snapshot(runs)));

        Files.writeString(model, "other weights");
        Files.setLastModifiedTime(model, FileTime.fromMillis(0));
        Files.delete(curve);
        Files.writeString(Files.createDirectories(runs.resolve("sub")).resolve("x.safetensors"), "new");
        String changes = RunsUntouchedExtension.differences(before, RunsUntouchedExtension.snapshot(runs));
        assertTrue(changes.contains("changed model.safetensors"), changes);
        assertTrue(changes.contains("deleted model.loss.svg"), changes);
        assertTrue(changes.contains("created sub/x.safetensors"), changes);
    }

    @Test
    void anAbsentDirectoryIsAnEmptySnapshot() {
        assertTrue(RunsUntouchedExtension.snapshot(dir.resolve("runs")).isEmpty());
    }
}
