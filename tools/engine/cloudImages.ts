// The stand-in cloud's image catalogue between engine runs: a test publishes a newer Ubuntu image
// (as Canonical does every few weeks) into the lab's cloud directory, and the stand-in aws provider
// answers the Ubuntu lookup with it from the next run on (tools/harness/cloud.ts, `images`).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Image, PublishedImages } from "../harness/cloud";

const FILE = "published-images.json";

/** The images published in a cloud directory (none until publishImage). */
export function publishedImages(cloudDir: string): PublishedImages {
    const file = join(cloudDir, FILE);
    return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as PublishedImages) : {};
}

/** Publishes a newer image of an architecture: the Ubuntu lookup answers it from the next run on. */
export function publishImage(cloudDir: string, architecture: keyof PublishedImages, image: Image): void {
    writeFileSync(
        join(cloudDir, FILE),
        JSON.stringify({ ...publishedImages(cloudDir), [architecture]: image }, null, 2) + "\n",
    );
}
