// Command capstan-s3-peer serves an in-memory S3-compatible API on a loopback address for tests.
//
// gofakes3 accepts any request without checking its signature, so this wrapper checks SigV4
// itself before passing a request on: every request must be presigned (query-string SigV4, the
// form Capstan sends) with the one access key configured here, within its expiry. The signature
// is recomputed with the AWS SDK's own signer, so a test passing here means the client signs the
// way AWS does. Requests signed in the Authorization header are refused: Capstan does not send
// them and this peer does not check them.
//
// Usage: capstan-s3-peer -addr 127.0.0.1:PORT [-region us-east-1] [-tls-cert FILE -tls-key FILE]
// with S3_PEER_ACCESS_KEY and S3_PEER_SECRET_KEY in the environment. With -tls-cert and -tls-key
// (PEM) it serves HTTPS only, so a client that does not trust the certificate's CA cannot fall
// back to plain HTTP on the same port.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/tls"
	"encoding/xml"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

const amzDateLayout = "20060102T150405Z"

type verifier struct {
	accessKey string
	secretKey string
	region    string
	signer    *v4.Signer
	next      http.Handler
}

type s3Error struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

func refuse(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	_ = xml.NewEncoder(w).Encode(s3Error{Code: code, Message: message})
}

func (v *verifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		refuse(w, "AccessDenied", "this peer accepts presigned (query-string SigV4) requests only")
		return
	}
	query := r.URL.Query()
	given := query.Get("X-Amz-Signature")
	if given == "" || query.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		refuse(w, "AccessDenied", "the request is not signed with AWS4-HMAC-SHA256")
		return
	}
	credential := strings.Split(query.Get("X-Amz-Credential"), "/")
	if len(credential) != 5 || credential[0] != v.accessKey {
		refuse(w, "InvalidAccessKeyId", "unknown access key")
		return
	}
	if credential[2] != v.region || credential[3] != "s3" {
		refuse(w, "AuthorizationQueryParametersError", "wrong region or service in the credential scope")
		return
	}
	signedAt, err := time.Parse(amzDateLayout, query.Get("X-Amz-Date"))
	if err != nil {
		refuse(w, "AuthorizationQueryParametersError", "X-Amz-Date is missing or malformed")
		return
	}
	expires, err := strconv.Atoi(query.Get("X-Amz-Expires"))
	if err != nil || expires < 1 || expires > 604800 {
		refuse(w, "AuthorizationQueryParametersError", "X-Amz-Expires must be 1 to 604800 seconds")
		return
	}
	if time.Now().After(signedAt.Add(time.Duration(expires) * time.Second)) {
		refuse(w, "AccessDenied", "the request has expired")
		return
	}
	if query.Get("X-Amz-SignedHeaders") != "host" {
		refuse(w, "AccessDenied", "this peer checks signatures over the host header only")
		return
	}

	// Recompute the signature over the same method, path, host and query (less the fields the
	// signer adds itself), and compare in constant time.
	unsigned := url.Values{}
	for key, values := range query {
		switch key {
		case "X-Amz-Signature", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders":
		default:
			unsigned[key] = values
		}
	}
	replay := &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: "http", Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: unsigned.Encode()},
		Host:   r.Host,
		Header: http.Header{},
	}
	creds := aws.Credentials{AccessKeyID: v.accessKey, SecretAccessKey: v.secretKey}
	signedURL, _, err := v.signer.PresignHTTP(context.Background(), creds, replay, "UNSIGNED-PAYLOAD", "s3", v.region, signedAt,
		func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err != nil {
		refuse(w, "AccessDenied", "cannot recompute the signature")
		return
	}
	parsed, err := url.Parse(signedURL)
	if err != nil || !hmac.Equal([]byte(parsed.Query().Get("X-Amz-Signature")), []byte(given)) {
		refuse(w, "SignatureDoesNotMatch", "the request signature does not match the one computed with the configured secret key")
		return
	}
	v.next.ServeHTTP(w, r)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:9000", "loopback address to listen on")
	region := flag.String("region", "us-east-1", "region the signatures must name")
	tlsCert := flag.String("tls-cert", "", "PEM server certificate; with -tls-key, serve HTTPS instead of HTTP")
	tlsKey := flag.String("tls-key", "", "PEM private key of -tls-cert")
	flag.Parse()

	if (*tlsCert == "") != (*tlsKey == "") {
		log.Fatal("-tls-cert and -tls-key go together: give both to serve HTTPS, or neither for plain HTTP")
	}

	accessKey, secretKey := os.Getenv("S3_PEER_ACCESS_KEY"), os.Getenv("S3_PEER_SECRET_KEY")
	if accessKey == "" || secretKey == "" {
		log.Fatal("set S3_PEER_ACCESS_KEY and S3_PEER_SECRET_KEY")
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("-addr %q must be a loopback address with a port, e.g. 127.0.0.1:9000", *addr)
	}
	listener, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fake := gofakes3.New(s3mem.New(), gofakes3.WithAutoBucket(true))
	handler := &verifier{accessKey: accessKey, secretKey: secretKey, region: *region, signer: v4.NewSigner(), next: fake.Server()}
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
		// Load the pair before announcing the port, so a bad file fails the start, not the first request.
		pair, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			log.Fatalf("loading -tls-cert %s / -tls-key %s: %v", *tlsCert, *tlsKey, err)
		}
		listener = tls.NewListener(listener, &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12})
	}
	// The start script waits for this line.
	fmt.Printf("listening on %s (%s)\n", listener.Addr(), scheme)
	log.Fatal(http.Serve(listener, handler))
}
