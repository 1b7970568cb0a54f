/**
 * `POST /v2/server/token` for a DatasetGateway caller: DSG mints the key with the caller's own key
 * (the one this request authenticated with, so a lower-case `bearer` scheme works too; upstream
 * forwards it as `Bearer bearer …`, which DSG refuses). DSG's 200 body is passed on verbatim (a
 * JSON string from `create_token`, `{"token": …}` from `long_lived_token`); a refusal keeps its
 * status with DSG's text as the detail.
 */
import type { DatasetGateway } from '../../shared/auth/dsg';
import { HttpError } from '../../shared/errors';
import { Reply } from '../../shared/http/reply';

export async function dsgToken(token: string, dsg: DatasetGateway): Promise<Reply> {
  const minted = await dsg.mintToken(token);
  if (!minted.ok) throw new HttpError(minted.status, minted.text);
  return new Reply(minted.body, { headers: { 'Content-Type': 'application/json' } });
}
