// OutputFiles: before a long run, proves that each file it will write (checkpoint, picture, log) can be written safely.
package bptt.api;

import bptt.train.OutputFile;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file bptt writes is reached through its symbolic links (a link is followed, never replaced)
 * and must be a regular file or not exist yet: a device, FIFO, socket or directory is refused,
 * since replacing it would destroy it. Checking every output before training turns a path that
 * cannot be written into an error at the start of a run instead of at its first save.
 */
public final class OutputFiles {
    private OutputFiles() { }

    /**
     * Fails unless {@code file} can be written as a regular file: creates its directory when
     * missing and proves the directory takes a new file by creating and removing one.
     *
     * @param file the file
     * @param name what to call it in the message, e.g. "--save" or "the checkpoint"
     * @return the path a write lands on, every symbolic link followed
     * @throws IllegalArgumentException saying what is wrong and what to do
     */
    public static Path requireWritable(Path file, String name) { return OutputFile.requireWritable(file, name); }

    /**
     * @param file a path
     * @return the path a write to it lands on, every symbolic link followed (the absolute path
     *         when a link cannot be followed), to tell whether two paths are the same file
     */
    public static Path resolve(Path file) {
        try {
            return OutputFile.resolve(file);
        } catch (IOException e) {
            return file.toAbsolutePath();
        }
    }
}
