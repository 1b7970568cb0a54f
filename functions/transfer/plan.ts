/**
 * What one transfer produces (upstream-api 5.14): a 256³ uint8 neuroglancer precomputed volume
 * at 8 nm under a fresh random directory of TRANSFER_DEST, computed by the transfer service in
 * eight 128³ jobs around the requested center, and a neuroglancer link that shows it.
 */
import { randomInt } from 'node:crypto';

export const CUBE = 256;
export const OCTANT = 128;
export const SCALE_KEY = '8.0x8.0x8.0';

/** The precomputed `info` file of the output volume, as the original wrote it. */
export const VOLUME_INFO = {
  '@type': 'neuroglancer_multiscale_volume',
  data_type: 'uint8',
  num_channels: 1,
  scales: [
    {
      chunk_sizes: [[64, 64, 64]],
      encoding: 'raw',
      key: SCALE_KEY,
      resolution: [8, 8, 8],
      size: [CUBE, CUBE, CUBE],
      offset: [0, 0, 0],
    },
  ],
  type: 'image',
};

/** One request body for the transfer service. */
export interface TransferJob {
  readonly location: string;
  readonly glbstart: number[];
  readonly start: number[];
  readonly size: number[];
  readonly model_name: string;
  readonly dest: string;
}

/** 20 random lowercase letters, the original's output directory names. */
export function randomDirectory(): string {
  return Array.from({ length: 20 }, () => String.fromCharCode(97 + randomInt(26))).join('');
}

/** The eight octant jobs of the cube centred on `center`, x varying fastest. */
export function octantJobs(location: string, modelName: string, center: readonly number[], dest: string): TransferJob[] {
  const glbstart = center.map((c) => c - CUBE / 2);
  const jobs: TransferJob[] = [];
  for (let z = 0; z < CUBE; z += OCTANT) {
    for (let y = 0; y < CUBE; y += OCTANT) {
      for (let x = 0; x < CUBE; x += OCTANT) {
        const start = [glbstart[0] + x, glbstart[1] + y, glbstart[2] + z];
        jobs.push({ location, glbstart, start, size: [OCTANT, OCTANT, OCTANT], model_name: modelName, dest });
      }
    }
  }
  return jobs;
}

/** A neuroglancer-demo link with one image layer, `jpeg`, showing the output volume. */
export function neuroglancerLink(bucket: string, directory: string): string {
  const state = {
    layers: [{ type: 'image', source: { url: `precomputed://gs://${bucket}/${directory}` }, tab: 'source', name: 'jpeg' }],
    selectedLayer: { layer: 'jpeg', visible: true },
  };
  return `https://neuroglancer-demo.appspot.com/#!${encodeURIComponent(JSON.stringify(state))}`;
}
