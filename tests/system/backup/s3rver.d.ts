// The part of s3rver 3.7's API the S3 upload spec uses (the package ships no types).
declare module "s3rver" {
    import type { AddressInfo } from "node:net";

    interface S3rverOptions {
        /** Listen address and port (0: any free port). */
        address?: string;
        port?: number;
        /** No request log on stdout. */
        silent?: boolean;
        /** Where the buckets' objects are kept, as files. */
        directory: string;
        /** Buckets created at start. */
        configureBuckets?: { name: string; configs?: string[] }[];
        /** Accept requests whose SigV4/V2 signature does not match (default false: refuse them). */
        allowMismatchedSignatures?: boolean;
    }

    export default class S3rver {
        constructor(options: S3rverOptions);
        run(): Promise<AddressInfo>;
        close(): Promise<void>;
    }
}
