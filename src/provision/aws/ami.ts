import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { errorMessage, NotFoundError } from '../../errors.js';
import { amiNamePattern, amiParameterName } from './config.js';
import type { StackSession } from './session.js';

export interface ResolvedAmi {
  imageId: string;
  /** Where the id came from: the stack file, the SSM public parameter, or DescribeImages. */
  source: 'stack file' | 'ssm' | 'describe-images';
  name?: string;
  rootDeviceName: string;
}

/**
 * The latest Amazon Linux AMI for the stack's OS profile and architecture, from the public SSM
 * parameter; when SSM cannot be read (no ssm:GetParameters permission, an endpoint without SSM),
 * the newest Amazon-owned image whose name matches, from DescribeImages.
 */
export async function resolveAmi(s: StackSession): Promise<ResolvedAmi> {
  const { os, architecture } = s.cfg;
  let imageId = s.cfg.amiId;
  let source: ResolvedAmi['source'] = 'stack file';
  if (!imageId) {
    const parameter = amiParameterName(os, architecture);
    try {
      const result = await s.ssm.send(new GetParameterCommand({ Name: parameter }));
      imageId = result.Parameter?.Value;
      source = 'ssm';
    } catch (error) {
      s.log(`could not read ${parameter} (${errorMessage(error)}); looking the AMI up with DescribeImages`);
    }
  }
  if (imageId) {
    const described = await s.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const image = described.Images?.[0];
    if (!image?.ImageId)
      throw new NotFoundError(`AMI ${imageId} (from the ${source}) does not exist in ${s.cfg.region}`);
    return {
      imageId,
      source,
      ...(image.Name ? { name: image.Name } : {}),
      rootDeviceName: image.RootDeviceName ?? '/dev/xvda',
    };
  }
  const pattern = amiNamePattern(os, architecture);
  const images = await s.ec2.send(
    new DescribeImagesCommand({
      Owners: ['amazon'],
      Filters: [
        { Name: 'name', Values: [pattern] },
        { Name: 'architecture', Values: [architecture] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  const newest = (images.Images ?? [])
    .filter((i) => i.ImageId)
    .sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
  if (!newest?.ImageId) {
    throw new NotFoundError(
      `no Amazon Linux AMI named ${pattern} for ${architecture} in ${s.cfg.region}; set aws.amiId`,
    );
  }
  return {
    imageId: newest.ImageId,
    source: 'describe-images',
    ...(newest.Name ? { name: newest.Name } : {}),
    rootDeviceName: newest.RootDeviceName ?? '/dev/xvda',
  };
}
