package aigw

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

var signer = v4.NewSigner()

// signSigV4 signs req (service bedrock, the route's region) with the key file's AWS
// credentials; the payload hash is sent as x-amz-content-sha256, as botocore does.
func signSigV4(req *http.Request, body []byte, cred *credential, region string, now time.Time) error {
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	creds := aws.Credentials{AccessKeyID: cred.awsKeyID, SecretAccessKey: cred.awsSecret,
		SessionToken: cred.awsSession}
	return signer.SignHTTP(req.Context(), creds, req, hash, bedrockService, region, now.UTC())
}
