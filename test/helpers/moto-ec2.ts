// A VPC, two subnets and a security group in moto (its EC2 side), for RDS subnet groups: the repo
// has no EC2 client, and moto answers the query protocol without checking signatures.
export async function motoNetwork(endpoint: string, region = 'us-east-1'): Promise<{ subnets: string[]; securityGroup: string }> {
  const ec2 = async (params: Record<string, string>): Promise<string> => {
    const r = await fetch(`${endpoint}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `AWS4-HMAC-SHA256 Credential=testing/20260101/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0` },
      body: new URLSearchParams({ Version: '2016-11-15', ...params }).toString(),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`moto EC2 ${params.Action}: ${text}`);
    return text;
  };
  const pick = (xml: string, tag: string) => new RegExp(`<${tag}>([^<]+)</${tag}>`).exec(xml)![1]!;
  const vpc = pick(await ec2({ Action: 'CreateVpc', CidrBlock: '10.0.0.0/16' }), 'vpcId');
  const subnets = [pick(await ec2({ Action: 'CreateSubnet', VpcId: vpc, CidrBlock: '10.0.1.0/24', AvailabilityZone: `${region}a` }), 'subnetId'), pick(await ec2({ Action: 'CreateSubnet', VpcId: vpc, CidrBlock: '10.0.2.0/24', AvailabilityZone: `${region}b` }), 'subnetId')];
  const securityGroup = pick(await ec2({ Action: 'CreateSecurityGroup', GroupName: `dbops-${Date.now()}`, GroupDescription: 'dbops test', VpcId: vpc }), 'groupId');
  return { subnets, securityGroup };
}
