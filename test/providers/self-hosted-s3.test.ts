import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/providers/store-s3.js';
import { startMoto } from '../helpers/moto.js';
import { selfHostedSuite } from '../helpers/self-hosted-suite.js';

selfHostedSuite('s3', async () => {
  const moto = await startMoto();
  const s3 = new S3Client({ region: moto.region, endpoint: moto.endpoint, credentials: moto.credentials, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'dumps' }));
  const location = 's3://dumps/team-a/pg';
  const key = (name: string) => `team-a/pg/${name}`;
  return {
    fixture: {
      location,
      store: new S3Store(location, s3),
      damage: async (name, edit) => {
        const r = await s3.send(new GetObjectCommand({ Bucket: 'dumps', Key: key(name) }));
        const body = Buffer.from(await r.Body!.transformToByteArray());
        await s3.send(new PutObjectCommand({ Bucket: 'dumps', Key: key(name), Body: edit(body) }));
      },
    },
    stop: async () => {
      s3.destroy();
      await moto.stop();
    },
  };
});
