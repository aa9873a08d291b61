/** A config a user could deploy (no placeholders), shared by the config and stack tests. */
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

/** Real-shaped ids, a real admin network, a real-shaped public key; `overrides` replace top-level keys. */
export function deployableRawConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cloudId: "b1gcloud000000000000",
    folderId: "b1gfolder00000000000",
    zone: "ru-central1-a",
    namePrefix: "fraud",
    adminCidrs: ["93.184.216.0/24", "100.64.10.7/32"],
    sshPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGv1cW9mBx1G2mXf5kS3nq0y1hD7uR3pLq8sTz4w6YtE ops@example",
    bucketName: "fraud-artifacts-test",
    dataproc: { computeMaxHostsCount: 2 },
    ...overrides,
  };
}
